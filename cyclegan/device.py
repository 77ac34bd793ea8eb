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
import os
import platform
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
