import sys

from churn_tools.demo.runner import main

sys.exit(main())
