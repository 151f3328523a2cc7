"""``python -m miniwdl_aws``: the workflow submitter (``miniwdl_submit_awsbatch``)."""

import sys

from miniwdl_aws.submit.cli import main

if __name__ == "__main__":
    sys.exit(main())
