"""python -m tctcb.eval --qrels NAME|FILE --run RUN [-m METRIC ...]  (thin: see tctcb.eval._cli)."""
import sys

from tctcb.eval._cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
