# The fixture lives in tftplab.py: a module name of its own, because several test folders
# have a conftest.py and `from conftest import ...` would pick whichever was loaded first.
from tftplab import tftp_lab  # noqa: F401
