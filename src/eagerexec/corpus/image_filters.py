# expect: ok
# Image processing with plain NumPy: build a synthetic grayscale image, add noise, then
# apply a box blur, a Gaussian blur and Sobel edge detection via 2-D convolution.
import numpy as np
import matplotlib.pyplot as plt


def convolve2d(image, kernel):
    kh, kw = kernel.shape
    padded = np.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2)), mode="edge")
    out = np.zeros_like(image, dtype=float)
    for dy in range(kh):
        for dx in range(kw):
            out += kernel[dy, dx] * padded[dy : dy + image.shape[0], dx : dx + image.shape[1]]
    return out


def gaussian_kernel(size, sigma):
    ax = np.arange(size) - size // 2
    g = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2 * sigma**2))
    return g / g.sum()


# Step 1: Synthetic image: a bright disc and a square on a gradient background
h, w = 600, 800
yy, xx = np.mgrid[0:h, 0:w]
image = xx / w * 0.4
image[(yy - 300) ** 2 + (xx - 250) ** 2 < 120**2] = 0.9
image[150:450, 500:700] = 0.6
rng = np.random.default_rng(1)
noisy = np.clip(image + rng.normal(0, 0.15, image.shape), 0, 1)
print(f"Image {image.shape}, noise std {np.std(noisy - image):.3f}")

# Step 2: Denoise
box = convolve2d(noisy, np.ones((5, 5)) / 25)
gauss = convolve2d(noisy, gaussian_kernel(9, 2.0))
for name, result in [("noisy", noisy), ("box blur", box), ("gaussian", gauss)]:
    rmse = np.sqrt(np.mean((result - image) ** 2))
    print(f"{name:>9}: RMSE vs clean = {rmse:.4f}")

# Step 3: Sobel edges on the Gaussian-smoothed image
sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
gx, gy = convolve2d(gauss, sobel_x), convolve2d(gauss, sobel_x.T)
edges = np.hypot(gx, gy)
mask = edges > 0.5 * edges.max()
print(f"Edge pixels: {mask.sum()} ({mask.mean():.2%} of the image)")

# Step 4: Save results
fig, axes = plt.subplots(2, 2, figsize=(10, 8))
for ax, (title, img) in zip(axes.flat, [("clean", image), ("noisy", noisy), ("gaussian", gauss), ("edges", edges)]):
    ax.imshow(img, cmap="gray")
    ax.set_title(title)
    ax.axis("off")
plt.savefig("filters.png")
plt.imsave("edges.png", mask, cmap="gray")
print("Saved filters.png and edges.png")
