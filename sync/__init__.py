"""sync: Singer taps into targets, stream by stream, in batches, with callbacks."""

from callbacks.decorator import callback, on_failure, on_success

__all__ = ["callback", "on_failure", "on_success"]
__version__ = "0.1.0"
