# Quick start targets. Each one does its own idempotent setup first (scripts/setup.sh).
.PHONY: demo test setup setup-dev

demo:
	bash scripts/setup.sh
	.venv/bin/spark-mm run conf/z_image.yaml

test:
	bash scripts/setup.sh --dev
	bash scripts/test.sh

setup:
	bash scripts/setup.sh

setup-dev:
	bash scripts/setup.sh --dev
