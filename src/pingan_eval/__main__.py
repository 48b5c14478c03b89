import sys

from pingan_eval.cli import main

sys.exit(main())
