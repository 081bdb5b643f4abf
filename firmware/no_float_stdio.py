# PlatformIO post-script (extra_scripts = post:no_float_stdio.py): drops the float support that
# ESP8266 Arduino core 3.1.2's tools/platformio-build.py forces into every image with
# "-u _printf_float -u _scanf_float" (~18 KB of newlib's dtoa/strtod; docs/footprint.md).
#
# SPORE never formats or parses floats on the device; without these two symbols newlib-nano's
# printf skips %f/%g fields instead of failing to link, so spore::JsonWriter::value(double)
# would write null there. A sketch that needs %f can delete this line from platformio.ini.
Import("env")  # noqa: F821 (provided by PlatformIO's SCons)

DROPPED = ("_printf_float", "_scanf_float")

kept = []
flags = list(env["LINKFLAGS"])  # noqa: F821
i = 0
while i < len(flags):
    flag = str(flags[i])
    if flag == "-u" and i + 1 < len(flags) and str(flags[i + 1]) in DROPPED:
        i += 2
        continue
    if flag.startswith("-u") and flag[2:].strip() in DROPPED:  # "-u_printf_float" / "-u _printf_float"
        i += 1
        continue
    kept.append(flags[i])
    i += 1
env.Replace(LINKFLAGS=kept)  # noqa: F821
