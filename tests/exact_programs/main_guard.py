def main():
    print("main() ran")
    return 0


if __name__ == "__main__":
    main()
print(locals() is globals(), vars() is globals())
exec("y = 3")
print(y, eval("y * 2"))
