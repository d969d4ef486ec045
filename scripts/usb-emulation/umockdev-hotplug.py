# Plugs an emulated USB device into a running JVM and unplugs it, with umockdev's testbed API.
# Run under umockdev-wrapper (which preloads libumockdev-preload), so that this process and the JVM it starts
# see the testbed's /sys and /dev, and receive its uevents.
# Used by the USB tests (UsbUmockdevTest, UsbBrokerUmockdevTest).
# Usage: umockdev-wrapper python3 umockdev-hotplug.py DESCRIPTION IOCTL_SCRIPT SYSFS_PATH DEVNODE JAVA_COMMAND...
# The JVM listens for the device and prints LISTENING, ENDPOINT, READ and CLOSED lines (FAILED on failure);
# every line it prints is echoed with the prefix CHILD.
import os
import subprocess
import sys

import gi
gi.require_version('UMockdev', '1.0')
from gi.repository import UMockdev  # noqa: E402

description, ioctl, syspath, devnode = sys.argv[1:5]
java = sys.argv[5:]
testbed = UMockdev.Testbed.new()
# The child inherits LD_PRELOAD from umockdev-wrapper; the testbed's directory must be passed explicitly
# (the testbed sets UMOCKDEV_DIR with setenv, which os.environ does not see).
child = subprocess.Popen(java, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=dict(os.environ, UMOCKDEV_DIR=testbed.get_root_dir()), text=True)


def expect(word):
    while True:
        line = child.stdout.readline()
        if not line:
            print('HOTPLUG the JVM ended before printing ' + word, flush=True)
            sys.exit(1)
        print('CHILD ' + line.rstrip(), flush=True)
        if line.startswith(word):
            return line
        if line.startswith('FAILED'):
            child.kill()
            sys.exit(1)


expect('LISTENING')
# The ioctl script first: adding the device sends its 'add' uevent, and the JVM may open the device and submit a
# transfer at once.
testbed.load_ioctl(devnode, ioctl)
with open(description) as f:
    if not testbed.add_from_string(f.read()):
        print('HOTPLUG cannot add the device', flush=True)
        sys.exit(1)
testbed.uevent(syspath, 'add')
print('HOTPLUG added', flush=True)
expect('ENDPOINT')
expect('READ')
testbed.uevent(syspath, 'remove')
testbed.remove_device(syspath)
print('HOTPLUG removed', flush=True)
expect('CLOSED')
child.stdin.close()
for line in child.stdout:
    print('CHILD ' + line.rstrip(), flush=True)
status = child.wait(timeout=60)
print('HOTPLUG the JVM exited with ' + str(status), flush=True)
sys.exit(status)
