# PlatformIO pre-script (extra_scripts = pre:cluster_key.py): the cluster key of the firmware.
# tools/cluster_key.py resolves it: $SPORE_CLUSTER_KEY, else SPORE_CLUSTER_KEY in the .env file
# ($SPORE_ENV_FILE, else the repository's .env; ./ctl.sh build sets SPORE_ENV_FILE to the .env it
# reads), else a new random key generated into that .env. It goes into the image as the
# SPORE_CLUSTER_KEY string macro (hex), which the node uses when its stored settings carry no
# cluster_key (platform/esp8266/node.cpp). SPORE_CLUSTER_KEY=open builds an open-mode image: no
# macro, the node logs a warning at boot. A malformed key stops the build.
#
# The key is in the image as plain text, like the WiFi flags: keep the .bin private
# (docs/security.md "Keys").
import os
import sys

Import("env")  # noqa: F821 (provided by PlatformIO's SCons)

root = os.path.abspath(os.path.join(env.subst("$PROJECT_DIR"), ".."))  # noqa: F821
sys.path.insert(0, os.path.join(root, "tools"))
import cluster_key  # noqa: E402

env_file = os.environ.get("SPORE_ENV_FILE") or os.path.join(root, ".env")
try:
    key_hex, message = cluster_key.resolve(env_file)
except cluster_key.KeyProblem as e:
    sys.stderr.write("cluster_key.py: %s\n" % e)
    env.Exit(1)  # noqa: F821
sys.stderr.write("firmware %s\n" % message)
if key_hex is not None:
    env.Append(CPPDEFINES=[("SPORE_CLUSTER_KEY", env.StringifyMacro(key_hex))])  # noqa: F821
