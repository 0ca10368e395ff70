"""How far apart colours look, and how well one stands out on another: CIELAB, CIEDE2000 and WCAG contrast.

Used to choose and check the catalog map's colours (`map_picture.PALETTE`): categorical colours must look
different from each other (a CIEDE2000 difference of about 2 is just noticeable, above 20 the colours read as
different categories at a glance), and dots must stand out on the map's background (WCAG asks 3:1 for
graphics). Plain NumPy, no Qt: the picture, the app and the tests measure the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# D65 white point, the reference white of sRGB.
_WHITE = np.array([0.95047, 1.0, 1.08883])
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)


def hex_rgb(colours: Sequence[str]) -> np.ndarray:
    """'#rrggbb' strings as floats 0..1, shape [N, 3]."""
    return np.array(
        [[int(h.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)] for h in colours], dtype=float
    )


def linear(rgb: np.ndarray) -> np.ndarray:
    """sRGB 0..1 to linear light."""
    rgb = np.asarray(rgb, dtype=float)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of sRGB colours (0..1), shape [...]."""
    return linear(rgb) @ np.array([0.2126, 0.7152, 0.0722])


def contrast(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """WCAG contrast ratio between sRGB colours: 1 (none) to 21 (black on white)."""
    la, lb = luminance(a), luminance(b)
    return (np.maximum(la, lb) + 0.05) / (np.minimum(la, lb) + 0.05)


def lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB 0..1 to CIELAB (D65), shape [..., 3]."""
    xyz = linear(rgb) @ _RGB_TO_XYZ.T / _WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def delta_e(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference between CIELAB colours (broadcasting, like NumPy arithmetic)."""
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, dtype=float), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, dtype=float), -1, 0)
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0, dh)
    d_l, d_c = L2 - L1, c2p - c1p
    d_h = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    l_mean, cp_mean = (L1 + L2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_mean = np.where(np.abs(h1p - h2p) > 180, np.where(h_sum < 360, h_sum + 360, h_sum - 360), h_sum) / 2
    h_mean = np.where(c1p * c2p == 0, h_sum, h_mean)
    t = (
        1
        - 0.17 * np.cos(np.radians(h_mean - 30))
        + 0.24 * np.cos(np.radians(2 * h_mean))
        + 0.32 * np.cos(np.radians(3 * h_mean + 6))
        - 0.20 * np.cos(np.radians(4 * h_mean - 63))
    )
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * cp_mean
    s_h = 1 + 0.015 * cp_mean * t
    r_c = 2 * np.sqrt(cp_mean**7 / (cp_mean**7 + 25.0**7))
    r_t = -np.sin(np.radians(60 * np.exp(-(((h_mean - 275) / 25) ** 2)))) * r_c
    return np.sqrt((d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (d_c / s_c) * (d_h / s_h))


def min_delta_e(colours: Sequence[str]) -> float:
    """The smallest CIEDE2000 difference between any two of these '#rrggbb' colours (inf for fewer than 2)."""
    if len(colours) < 2:
        return float("inf")
    labs = lab(hex_rgb(colours))
    d = delta_e(labs[:, None, :], labs[None, :, :])
    return float(d[np.triu_indices(len(colours), 1)].min())


__all__ = ["contrast", "delta_e", "hex_rgb", "lab", "luminance", "min_delta_e"]
