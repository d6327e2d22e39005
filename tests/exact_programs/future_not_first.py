print("this line must not run in serial mode")
from __future__ import annotations

print("never")
