"""spark-submit entry point of the RefinedWeb web-text recipe.

    spark-submit jobs/refinedweb.py --recipe conf/refinedweb.yaml [--set key=value ...] [--run-id ID]
"""

import sys

from spark_mm.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--job", "refinedweb", *sys.argv[1:]]))
