# Fixtures live in kubelab.py (a unique module name: several test folders have a conftest.py,
# and `from conftest import ...` would pick whichever was loaded first).
from kubelab import cluster  # noqa: F401
