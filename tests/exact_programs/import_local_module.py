from pathlib import Path

Path("helper_mod.py").write_text("VALUE = 42\n")
import helper_mod

print(helper_mod.VALUE, helper_mod.__name__)
