# The embedded-API fixture of tests/integration/kube (kubelab.py has a unique module name:
# several test folders have a conftest.py).
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kube"))
from kubelab import cluster  # noqa: E402,F401
