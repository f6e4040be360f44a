"""spark-submit entry point of the Z-Image style image recipe.

    spark-submit jobs/z_image.py --recipe conf/z_image.yaml [--set key=value ...] [--run-id ID]
"""

import sys

from spark_mm.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--job", "z_image", *sys.argv[1:]]))
