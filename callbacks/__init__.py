"""The callback runtime: decorators, loading and checking callback files, dispatch.

User callback files need no import: ``callback``, ``on_success`` and ``on_failure``
are in scope when sync loads them. ``from sync import callback`` works as well.
"""

from callbacks.decorator import CallbackSpec, callback, on_failure, on_success

__all__ = ["CallbackSpec", "callback", "on_failure", "on_success"]
