"""python -m tctcb.index lucene|faiss ...  (thin: parses the subcommand, calls main)."""
import sys

from tctcb.index._cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
