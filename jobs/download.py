"""spark-submit entry point of the download-only recipe: image links -> one samples row per link.

    spark-submit jobs/download.py [--recipe conf/download.yaml] [--set key=value ...] [--run-id ID]

What img2dataset does, on the lakehouse: resumable (a re-run with the same run id fetches only
links without a row), one commit per ``source.chunk_links`` links. Signal stages run later from
another recipe over the same namespace's samples, or use conf/laion.yaml for both at once.
"""

import sys

from spark_mm.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--job", "download", *sys.argv[1:]]))
