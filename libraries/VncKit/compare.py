"""Two decodings of the same screen, compared pixel by pixel: how many differ, by how much, where."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageChops

from kitcore.errors import KitError


class FramesDiffer(KitError, AssertionError):
    """Two framebuffers that should show the same screen do not (beyond the allowed error)."""


@dataclass
class FrameDifference:
    total: int
    errors: list[int]  # errors[e]: how many pixels have e as their largest channel error (0-255)
    mean_error: float  # the mean difference over every channel of every pixel
    box: tuple[int, int, int, int] | None  # the bounding box of the differing pixels

    @property
    def pixels(self) -> int:
        """How many pixels differ in any channel."""
        return self.total - self.errors[0]

    @property
    def max_error(self) -> int:
        """The largest difference of one channel of one pixel (0-255)."""
        return max((error for error, count in enumerate(self.errors) if count), default=0)

    def share_above(self, error: int) -> float:
        """The share of pixels whose largest channel error exceeds ``error``."""
        return sum(self.errors[error + 1:]) / self.total

    def __str__(self) -> str:
        if not self.pixels:
            return f"all {self.total} pixels equal"
        x0, y0, x1, y1 = self.box or (0, 0, 0, 0)
        return (f"{self.pixels} of {self.total} pixels differ ({self.pixels / self.total:.2%}) within "
                f"{x0},{y0},{x1 - x0},{y1 - y0}; largest channel error {self.max_error}, mean {self.mean_error:.2f}")


def compare_frames(reference: Image.Image, other: Image.Image) -> FrameDifference:
    """How ``other`` differs from ``reference`` (both RGB, the same size)."""
    if reference.size != other.size:
        raise FramesDiffer(f"The frames have different sizes: {reference.size[0]}x{reference.size[1]} and "
                           f"{other.size[0]}x{other.size[1]}", fix="compare frames of the same desktop")
    difference = ImageChops.difference(reference.convert("RGB"), other.convert("RGB"))
    histogram = difference.histogram()
    total = reference.width * reference.height
    mean_error = sum(value * histogram[band * 256 + value] for band in range(3) for value in range(256)) / (3 * total)
    red, green, blue = difference.split()
    largest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    return FrameDifference(total, largest.histogram(), mean_error, largest.getbbox())


def check_same_screen(reference: Image.Image, other: Image.Image, what: str, max_mean_error: float = 0.0,
                      max_error: int = 0, outliers: float = 0.0) -> FrameDifference:
    """Fail unless ``other`` shows the screen of ``reference``: equal pixel for pixel by default; for a
    lossy encoding (JPEG) within a mean error, with at most a share ``outliers`` of the pixels off by
    more than ``max_error`` in a channel."""
    found = compare_frames(reference, other)
    beyond = found.share_above(max_error)
    if found.mean_error > max_mean_error or beyond > outliers:
        allowed = ("no difference" if not max_mean_error and not max_error
                   else f"mean error up to {max_mean_error:g}, at most {outliers:.1%} of the pixels off by more "
                        f"than {max_error} (found {beyond:.2%})")
        raise FramesDiffer(f"{what} does not show the same screen", f"{found}; allowed: {allowed}",
                           "the decoder of that encoding draws wrong pixels; compare the two screenshots")
    return found
