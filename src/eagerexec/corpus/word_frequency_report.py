# expect: ok
"""
Word frequency report for a collection of (synthetic) product reviews:
tokenisation, stop-word removal, top words, bigrams and per-rating vocabulary.
"""
import json
import random
import re
from collections import Counter

STOP_WORDS = {"the", "a", "and", "is", "it", "to", "of", "this", "i", "was", "for", "with", "but", "very"}
POSITIVE = ["great", "excellent", "love", "perfect", "fast", "sturdy", "comfortable", "recommend"]
NEGATIVE = ["broken", "slow", "poor", "return", "cheap", "disappointed", "late", "noisy"]
NEUTRAL = ["product", "delivery", "price", "quality", "size", "color", "battery", "box", "seller"]


def make_review(rnd, rating):
    mood = POSITIVE if rating >= 4 else NEGATIVE if rating <= 2 else NEUTRAL
    words = [rnd.choice(mood if rnd.random() < 0.4 else NEUTRAL + list(STOP_WORDS)) for _ in range(rnd.randint(8, 30))]
    return " ".join(words).capitalize() + rnd.choice([".", "!", "!!", "..."])


def tokenize(text):
    return [w for w in re.findall(r"[a-z']+", text.lower()) if w not in STOP_WORDS]


# Step 1: Generate and save reviews
rnd = random.Random(99)
reviews = []
for i in range(40_000):
    rating = rnd.choices([1, 2, 3, 4, 5], weights=[1, 1, 2, 4, 5])[0]
    reviews.append({"id": i, "rating": rating, "text": make_review(rnd, rating)})
with open("reviews.json", "w") as fh:
    json.dump(reviews, fh)

# Step 2: Load and tokenize
with open("reviews.json") as fh:
    reviews = json.load(fh)
tokens = [tokenize(r["text"]) for r in reviews]
print(f"{len(reviews)} reviews, {sum(map(len, tokens))} tokens")
print("Example:", reviews[0]["text"], "->", tokens[0][:8])

# Step 3: Most common words and bigrams
word_counts = Counter(w for t in tokens for w in t)
print("\nTop 10 words:")
for word, count in word_counts.most_common(10):
    print(f"  {word:<14}{count:>7}")
bigrams = Counter((a, b) for t in tokens for a, b in zip(t, t[1:]))
print("\nTop 5 bigrams:", [" ".join(b) for b, _ in bigrams.most_common(5)])

# Step 4: Characteristic words per rating
for rating in [1, 3, 5]:
    counts = Counter(w for r, t in zip(reviews, tokens) if r["rating"] == rating for w in t)
    distinctive = [w for w, _ in counts.most_common(15) if w not in NEUTRAL][:4]
    print(f"Rating {rating}: {distinctive}")

# Step 5: Summary
avg_len = sum(map(len, tokens)) / len(tokens)
print(f"\nVocabulary size: {len(word_counts)}, average review length: {avg_len:.1f} tokens")
