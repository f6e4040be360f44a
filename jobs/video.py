"""spark-submit entry point of the video recipe (scene clips and video signals).

    spark-submit jobs/video.py --recipe conf/video.yaml [--set key=value ...] [--run-id ID]
"""

import sys

from spark_mm.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--job", "video", *sys.argv[1:]]))
