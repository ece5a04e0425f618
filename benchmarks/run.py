"""Run the benchmark cases: `python benchmarks/run.py [--quick] [--case NAME]` (same as `sim bench`)."""

import sys

from sim.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
