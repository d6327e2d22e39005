# expect: ok
# Async code run with asyncio.run: gather, queues and async generators (no real sleeping).
import asyncio


async def fetch(name, delay):
    await asyncio.sleep(delay)
    return f"{name}:{len(name) * 10}"


async def producer(queue, n):
    for i in range(n):
        await queue.put(i)
    await queue.put(None)


async def consumer(queue):
    total = 0
    while (item := await queue.get()) is not None:
        total += item
    return total


async def ticks(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i * i


async def main():
    results = await asyncio.gather(fetch("alpha", 0.01), fetch("be", 0.0), fetch("gam", 0.005))
    print(results)
    queue = asyncio.Queue()
    _, total = await asyncio.gather(producer(queue, 5), consumer(queue))
    print("consumer total", total)
    print([t async for t in ticks(4)])
    try:
        await asyncio.wait_for(asyncio.sleep(1), timeout=0.01)
    except TimeoutError:
        print("timed out as expected")
    return len(results)


print("main returned", asyncio.run(main()))
