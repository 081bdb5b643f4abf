# PlatformIO pre-script (extra_scripts = pre:embed_dashboard.py): generates the web dashboard
# header, spore_dashboard_asset.h, from web/dashboard/ with tools/embed_asset.py (the same step
# CMake runs for spored: inline, gzip -9 with mtime 0, 12 KB budget) into this environment's
# build directory, never into the source tree, and puts that directory on the include path of the
# firmware and its libraries (platform/esp8266/node.cpp includes it when present).
#
# It runs at every build; the header is rewritten only when its bytes change, so an unchanged
# dashboard recompiles nothing. An oversized dashboard stops the build with the script's message.
import os
import subprocess
import sys

Import("env")  # noqa: F821 (provided by PlatformIO's SCons)

project_dir = env.subst("$PROJECT_DIR")  # noqa: F821
root = os.path.abspath(os.path.join(project_dir, ".."))
out_dir = os.path.join(env.subst("$BUILD_DIR"), "generated")  # noqa: F821
header = os.path.join(out_dir, "spore_dashboard_asset.h")
cmd = [sys.executable, os.path.join(root, "tools", "embed_asset.py"),
       "--src", os.path.join(root, "web", "dashboard"), "--header", header]
result = subprocess.run(cmd, check=False)
if result.returncode != 0:
    sys.stderr.write("embed_dashboard.py: generating the web dashboard failed (see above)\n")
    env.Exit(1)  # noqa: F821
env.Append(CPPPATH=[out_dir])  # noqa: F821
