"""Device, precision, memory layout and compilation: the speed choices, made in one place
for training and inference.

precision:
    "auto": bf16 on CPUs with AMX tiles and on Ampere+ GPUs, fp16 on older GPUs,
            fp32 otherwise. A CPU with AVX512-BF16 but no AMX runs bf16 convolutions
            slower than fp32 (measured: a 128x128 training step 2.7 s vs 1.8 s), so it
            gets fp32;
    "bf16", "fp16" (CUDA only, with a GradScaler in training), "fp32".
"""

import contextlib
import logging
import math
import os
import platform
import threading
import time
import warnings

import torch

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def resolve_device(device: str = "auto") -> torch.device:
    """"auto" -> cuda when available, else cpu; anything else must name a usable device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as e:
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but this machine has no usable CUDA GPU; use --device cpu")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device {device!r} is not supported; use auto, cpu, cuda or cuda:N")
    return dev


def cpu_has_fast_bf16() -> bool:
    """True when oneDNN can run bf16 convolutions on AMX tiles, where they beat fp32."""
    try:
        return bool(torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """Turn "auto" into the fastest correct choice for `device`; validate the rest."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if cpu_has_fast_bf16() else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("precision fp16 is for CUDA only; on the CPU use bf16 or fp32")
    return precision


def autocast(device: torch.device, precision: str):
    """The autocast context for a resolved precision (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[precision])


def use_channels_last(device: torch.device, precision: str) -> bool:
    """NHWC where it is faster: on CUDA (tensor cores) and for bf16 on AMX CPUs.

    For fp32 on the CPU, oneDNN's NCHW kernels were as fast or faster here (a 128x128
    training step 1.78 s vs 1.94 s), so the plain layout stays.
    """
    return device.type == "cuda" or precision != "fp32"


class CompileFailureAsOneLine(logging.Filter):
    """Dynamo's warning for a compile error it suppressed (a screen of traceback, easy to scroll past, or
    lost in a log) as one RuntimeWarning that names the error and says the module runs eagerly (once per
    error: dynamo tries the module's inner frames too, and each fails alike)."""

    def __init__(self):
        super().__init__()
        self.said = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.exc_info:
            return True
        error = record.exc_info[1]
        error = getattr(error, "inner_exception", None) or error  # BackendCompilerFailed wraps the backend's
        first = next((line for line in str(error).splitlines() if line.strip()), "")
        message = f"torch.compile failed, running eagerly instead: {type(error).__name__}: {first}"
        if message not in self.said:
            self.said.add(message)
            warnings.warn(message, RuntimeWarning, stacklevel=2)
        return False


def maybe_compile(module: torch.nn.Module, enabled: bool) -> torch.nn.Module:
    """torch.compile(module) when enabled; the returned module shares the parameters.

    Inductor fuses the instance norms, ReLUs, padding and casts between the
    convolutions. The first call per input shape compiles (tens of seconds on a
    small CPU); later calls are faster: 1.05-1.5x for a training step, measured on a
    2-core CPU in fp32 (train/bench.py), and at best a few percent for one 128 px
    translation, so inference compiles only when asked. Keep the original module for
    state_dict().
    """
    if not enabled:
        return module
    if not torch.cuda.is_available():
        # Inductor imports torch.utils.cpp_extension, which logs "No CUDA runtime is found, using
        # CUDA_HOME=..." when a CUDA toolkit is installed on a machine without a GPU: true, and
        # irrelevant to compiling for the CPU, so it is not shown.
        logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    # Where compilation fails (no C++ compiler, an unsupported platform), run eagerly instead of
    # stopping: compiled or not, it is the same function. But say so, in one line that names the error
    # (CompileFailureAsOneLine), or a run believed compiled would silently take the eager time.
    torch._dynamo.config.suppress_errors = True
    frames = logging.getLogger("torch._dynamo.convert_frame")
    if not any(isinstance(f, CompileFailureAsOneLine) for f in frames.filters):
        frames.addFilter(CompileFailureAsOneLine())
    # Static shapes: each new input shape compiles once more. Automatic dynamic shapes saved
    # no compile time in train/bench.py and ran slower (1.84 vs 1.61 s a 128 px step).
    return torch.compile(module, dynamic=False)


def describe_machine() -> str:
    """The machine in one line, for benchmarks and training.json: CPU model, cores, GPU, AMX, fast precision, torch."""
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    dev = resolve_device("auto")
    gpu = f", GPU {torch.cuda.get_device_name()}" if dev.type == "cuda" else ", no GPU"
    return (f"{cpu}, {os.cpu_count()} cores{gpu}; AMX: {'yes' if cpu_has_fast_bf16() else 'no'}; "
            f"fast precision here: {resolve_precision('auto', dev)}; torch {torch.__version__}")


# Threads on a shared CPU (issue [19]). PyTorch's OpenMP threads spin at each parallel region's barrier for a
# while before they sleep. With a core of their own that is the fast path; when one of them shares its core with
# another process (a browser, a second job, a Space's neighbour), the two take turns and every region waits for
# the slower thread. Measured on a 2-core AMD EPYC without AMX (fp32), one core kept busy by `while True: pass`,
# median times of the cpu recipe's training step / a 640x480 photo through translate_photo / a live frame:
#   idle, 2 threads (PyTorch's default)      0.73 s / 185 ms / 48 ms
#   busy, 2 threads                          2.64 s / 363 ms (mean 640, up to 3.5 s) / 140 ms
#   busy, OMP_WAIT_POLICY=PASSIVE            1.17 s / 265 ms / 72 ms, but idle 1.25 s / 212 ms / 59 ms
#   busy, GOMP_SPINCOUNT=1000                1.27 s / 277 ms / 63 ms, idle 0.81 s / 224 ms / 62 ms
#   busy, 1 thread                           1.01 s / 243 ms / 58 ms, idle 1.28 s / 232 ms / 56 ms
# No wait policy is right both ways (and OpenMP reads it once, when torch is imported), while the number of
# threads can change between parallel regions: so the threads follow the load, as many as the cores the other
# processes leave free, re-read every few seconds from the kernel's CPU times (FOLLOW_EVERY).
FOLLOW_EVERY = 5.0  # seconds between two looks at the other processes' load (a training step is 0.6-1 s here)
TAKEN = 0.4  # a core counts as taken when the other processes used at least this share of one


def _cpu_ticks(cores: set) -> int:
    """Busy clock ticks of `cores` since boot, all processes (user, nice, system, irq, softirq; not idle, iowait,
    or the hypervisor's steal), from /proc/stat's per-core lines."""
    total = 0
    with open("/proc/stat") as f:
        for line in f:
            name, *ticks = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cores:
                user, nice, system, _idle, _iowait, irq, softirq = map(int, ticks[:7])
                total += user + nice + system + irq + softirq
    return total


def _own_ticks() -> int:
    """This process's CPU clock ticks (all its threads, and its children that have ended)."""
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(map(int, fields[11:15]))  # utime, stime, cutime, cstime


class CpuThreads:
    """How many threads PyTorch runs on the CPU: a fixed number, or "auto", which follows the load.

    "auto" gives PyTorch as many threads as the cores other processes leave free (at least one): all of them on
    an idle machine, one fewer for each core another process keeps at least TAKEN busy, looked at again at most
    every FOLLOW_EVERY seconds when `update()` is called (the training loop calls it each step, the page each
    request). Where OMP_NUM_THREADS is set (torchrun sets it to 1 for several processes), "auto" keeps that number.
    Off Linux (no /proc/stat) "auto" keeps PyTorch's default.

    Args:
        threads (`str` or `int`, defaults to "auto"): "auto", or a number of threads (at least 1) to keep.
    """

    def __init__(self, threads="auto"):
        if str(threads) != "auto" and not (str(threads).isdigit() and int(threads) >= 1):
            raise ValueError(f"threads must be auto or a whole number of threads, at least 1; got {threads!r}")
        self.cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.fixed, self.reason = (int(threads), "fixed") if str(threads) != "auto" else (None, "PyTorch's default")
        if self.fixed is None and os.environ.get("OMP_NUM_THREADS", "").isdigit():
            self.fixed, self.reason = int(os.environ["OMP_NUM_THREADS"]), "OMP_NUM_THREADS"
        self.follow = self.fixed is None and os.path.exists("/proc/stat") and bool(self.cores)
        self.others = 0.0  # cores the other processes used at the last look
        self.last = None  # (time, all processes' busy ticks, this process's ticks) at the last look
        self.lock = threading.Lock()

    def apply(self) -> int:
        """Set PyTorch's threads now (looking at the load over a quarter of a second the first time); call it before
        the first parallel region. Returns the number of threads."""
        if self.follow and self.last is None:
            self.last = self._look()
            time.sleep(0.25)
            self.last = self._look(since=self.last)
        torch.set_num_threads(self.threads())
        return torch.get_num_threads()

    def update(self) -> int:
        """Follow the load: at most every FOLLOW_EVERY seconds, look at it again and change the threads if it
        changed. Cheap enough to call every step. Returns the number of threads."""
        if self.follow and self.lock.acquire(blocking=False):
            try:
                if self.last is None or time.monotonic() - self.last[0] >= FOLLOW_EVERY:
                    self.last = self._look(since=self.last)
                    if self.threads() != torch.get_num_threads():
                        torch.set_num_threads(self.threads())
            finally:
                self.lock.release()
        return torch.get_num_threads()

    def threads(self) -> int:
        """The number of threads the choice gives now."""
        if self.fixed:
            return self.fixed
        if not self.follow:
            return torch.get_num_threads()
        taken = math.floor(self.others + 1 - TAKEN)  # with TAKEN 0.4: 0.4 of a core used is one core taken, 1.4 two
        return max(1, len(self.cores) - taken)

    def _look(self, since=None):
        now = (time.monotonic(), _cpu_ticks(set(self.cores)), _own_ticks())
        if since is not None:
            seconds = max(now[0] - since[0], 1e-3)
            others = (now[1] - since[1]) - (now[2] - since[2])
            self.others = max(0.0, others / os.sysconf("SC_CLK_TCK") / seconds)
        return now

    def describe(self) -> str:
        """One line for the run's log and training.json."""
        n = torch.get_num_threads()
        if self.follow:
            return (f"{n} of {len(self.cores)} cores (follows the load: other processes used {self.others:.1f} "
                    f"cores; --threads N to fix)")
        return f"{n} ({self.reason})"
