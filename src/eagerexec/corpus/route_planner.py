# expect: ok
"""
Route planning on a randomly generated road network: Dijkstra shortest paths,
BFS hop counts, connectivity and the most central intersections.
"""
import heapq
import math
import random
from collections import Counter, deque

# Step 1: Generate a geometric road network (connect nearby intersections)
rnd = random.Random(42)
n_nodes = 1_200
coords = {i: (rnd.uniform(0, 100), rnd.uniform(0, 100)) for i in range(n_nodes)}
graph = {i: {} for i in range(n_nodes)}
for a in range(n_nodes):
    for b in range(a + 1, n_nodes):
        d = math.dist(coords[a], coords[b])
        if d < 4.2:
            speed = rnd.choice([30, 50, 50, 80])
            graph[a][b] = graph[b][a] = d / speed * 60  # minutes
print(f"{n_nodes} intersections, {sum(map(len, graph.values())) // 2} roads")


def dijkstra(source):
    dist, prev = {source: 0.0}, {}
    heap = [(0.0, source)]
    while heap:
        d, node = heapq.heappop(heap)
        if d > dist[node]:
            continue
        for nxt, cost in graph[node].items():
            nd = d + cost
            if nd < dist.get(nxt, math.inf):
                dist[nxt], prev[nxt] = nd, node
                heapq.heappush(heap, (nd, nxt))
    return dist, prev


def hops_from(source):
    seen, queue = {source: 0}, deque([source])
    while queue:
        node = queue.popleft()
        for nxt in graph[node]:
            if nxt not in seen:
                seen[nxt] = seen[node] + 1
                queue.append(nxt)
    return seen


# Step 2: Connectivity
component = hops_from(0)
print(f"Intersections reachable from node 0: {len(component)}")

# Step 3: Shortest route between two far-apart reachable nodes
target = max(component, key=lambda n: math.dist(coords[0], coords[n]))
dist, prev = dijkstra(0)
path = [target]
while path[-1] != 0:
    path.append(prev[path[-1]])
print(f"Fastest route 0 -> {target}: {dist[target]:.1f} min via {len(path) - 1} roads")

# Step 4: Centrality estimate: how often each node lies on shortest paths from 40 sources
through = Counter()
for source in rnd.sample(sorted(component), 40):
    _, prev = dijkstra(source)
    for node in prev:
        while node in prev:
            node = prev[node]
            through[node] += 1
print("Busiest intersections:", through.most_common(5))
