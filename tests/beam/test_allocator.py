import subprocess
import sys


def test_freed_memory_is_kept_for_reuse_on_glibc():
    """In a fresh process: the thresholds are set once, and a large block freed and allocated
    again no longer costs page faults (glibc hands it back to the kernel by default)."""
    script = """
import ctypes, resource
from gnn_assets.beam.allocator import keep_freed_memory_for_reuse
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
size = 64 << 20

def faults_of_one_round():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

faults_of_one_round()
default = faults_of_one_round()
assert keep_freed_memory_for_reuse() and keep_freed_memory_for_reuse()
faults_of_one_round()
kept = faults_of_one_round()
print(default, kept)
assert default > 10_000 and kept < 100, (default, kept)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + result.stdout
