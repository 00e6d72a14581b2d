"""the processor's model name, for the bench scripts' headers (imported from
the script's own folder, which python puts first on sys.path)"""


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"
