"""spark-submit entry point of the LAION-5B recipe: two phases in one session under one run id.

    spark-submit jobs/laion.py [--recipe conf/laion_links.yaml] [--set key=value ...]
        [--then conf/laion.yaml] [--then-set key=value ...] [--run-id ID]

Phase 1 (``--recipe``, default conf/laion_links.yaml): WARC/WAT -> image links. Phase 2 (``--then``,
default conf/laion.yaml): links -> download -> image signals, CLIP, NSFW, pHash and (URL, text)
dedup. ``--set`` applies to phase 1 (e.g. ``source.path=/crawl/``), ``--then-set`` to phase 2.
"""

import sys

from spark_mm.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--job", "laion", *sys.argv[1:]]))
