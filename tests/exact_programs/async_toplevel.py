import asyncio


async def work(n):
    await asyncio.sleep(0.01)
    return n * 2


print(asyncio.run(work(21)))
