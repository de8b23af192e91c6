"""The course material's Metal3 example: a Secret with the BMC credentials and the
BareMetalHost that names it, as one manifest for `kubectl apply -f -`."""


def course_bmh_manifest(address="ipmi://10.0.100.10", password="password", boot_mac="52:54:00:12:34:56",
                        extra_bmc=""):
    """The manifest verbatim but for the BMC address, the password and the boot MAC (the tests'
    BMCs and VMs); extra_bmc is appended to the bmc block (e.g. disableCertificateVerification)."""
    return f"""\
apiVersion: v1
kind: Secret
metadata:
  name: worker-0-bmc-secret
  namespace: metal3
type: Opaque
stringData:
  username: admin
  password: {password}
---
apiVersion: metal3.io/v1alpha1
kind: BareMetalHost
metadata:
  name: worker-0
  namespace: metal3
spec:
  online: true
  bootMACAddress: {boot_mac}
  bmc:
    address: {address}
    credentialsName: worker-0-bmc-secret{extra_bmc}
  rootDeviceHints:
    deviceName: /dev/sda
    minSizeGigabytes: 100
"""
