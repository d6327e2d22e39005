print("raise SystemExit directly")
raise SystemExit(7)
