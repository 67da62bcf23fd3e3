"""What the emulator "hears" in a sound: a deterministic descriptor of its spectrum. NOT a
model: nothing is recognised, only energy measured.

The sound is decoded with PyAV to mono float PCM at 16 kHz (whatever the container, codec
or sample rate), leading and trailing silence are trimmed, and it is cut into frames of
2,048 samples (128 ms, Hann window) grouped in segments of 8 frames (about 1 s). For every
audible segment:

- **band profile**: the mean power of 24 log-spaced bands from 50 Hz to 8 kHz, in dB below
  the segment's loudest band, mapped to [0, 1] over a 40 dB range (anything quieter than
  40 dB under the peak, such as an MP3 encoder's noise floor, counts as nothing);
- **pitch**: the segment's dominant frequency (parabolic peak interpolation) as a smooth
  bump on a 48-step log-frequency scale, weighted by how tonal the segment is;

averaged over the segments, plus two shape numbers for the whole sound: spectral flatness
(0 for a pure tone, near 1 for white noise) and loudness modulation (the spread of a 16 ms
loudness envelope: 0 for a steady sound, high for speech-like on/off patterns). The
descriptor is independent of volume, sample rate and encoding, so the same tone as WAV and
as MP3 gives nearly the same descriptor, a 10 s cut of a steady recording matches the whole,
and a different tone or noise does not. `vectors` projects it into the model's space the
way it projects pixel descriptors, and `describe` turns it into the words the generation
stand-in "heard" ("a steady tone near 440 Hz", "broadband noise", "speech-like sound").
The one bridge from words to sound runs the other way: a frequency written in a text
("a 220 Hz tone", `tone_mentions`) adds the vector of a steady tone at that frequency
(`tone_descriptor`), as a colour word adds the pixels of that colour.

At most `MAX_DECODE_SECONDS` are decoded (gemini-embedding-2 takes at most 80 s of audio
and 120 s of video; generation describes the first two minutes of longer recordings).
Results are cached by a digest of the bytes.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from .media_errors import MediaDecodeError

Vector = npt.NDArray[np.float32]
T = TypeVar("T")

#: Decoding rate: the band the descriptor looks at ends at its Nyquist frequency (8 kHz).
#: The Gemini API documents that it downsamples audio too ("Gemini downsamples audio files
#: to a 16 Kbps data resolution", https://ai.google.dev/gemini-api/docs/audio); 16 kHz here
#: is the emulator's own choice, not a service fact.
RATE = 16_000
FRAME = 2048
SEGMENT_FRAMES = 8
_HOP = 256  # loudness envelope step (16 ms)
N_BANDS = 24
N_PITCH = 48
LOW_HZ, HIGH_HZ = 50.0, RATE / 2
DYNAMIC_RANGE_DB = 40.0
#: Segments (and trimmed edges) quieter than this are silence.
SILENCE_DBFS = -60.0
#: Enough for every input gemini-embedding-2 accepts (audio ≤ 80 s, video ≤ 120 s).
MAX_DECODE_SECONDS = 120.0
#: Weights of the descriptor's parts against the band profile.
W_PITCH = 1.0
W_SHAPE = 1.5
DESCRIPTOR_SIZE = N_BANDS + N_PITCH + 2

_BAND_EDGES = np.geomspace(LOW_HZ, HIGH_HZ, N_BANDS + 1)
_FREQS = np.fft.rfftfreq(FRAME, 1.0 / RATE)
_IN_RANGE = (_FREQS >= LOW_HZ) & (_FREQS < HIGH_HZ)
_BAND_OF = np.clip(np.digitize(_FREQS[_IN_RANGE], _BAND_EDGES) - 1, 0, N_BANDS - 1)
_BAND_BINS = np.bincount(_BAND_OF, minlength=N_BANDS).astype(np.float64)
_VOICE = (_FREQS[_IN_RANGE] >= 80.0) & (_FREQS[_IN_RANGE] < 4000.0)
_WINDOW = np.hanning(FRAME)
_TINY = 1e-20


@dataclass(frozen=True)
class Hearing:
    """The descriptor of one sound and the facts `describe` words it with."""

    #: Decoded length in seconds (at most `MAX_DECODE_SECONDS`), before trimming silence.
    seconds: float
    descriptor: Vector
    #: RMS level of the audible part, dB relative to full scale.
    level_dbfs: float
    #: Strongest frequency of the whole sound; None for silence.
    dominant_hz: float | None
    #: 0 (pure tone) .. 1 (white noise).
    flatness: float
    #: 0 (steady) .. 1 (loudness jumps by 30 dB or more, e.g. speech with pauses).
    modulation: float
    #: Share of the power within a few bins of each segment's peak.
    tonal: float
    #: Share of the power between 80 Hz and 4 kHz (voice fundamentals and formants).
    voice_band: float
    #: Lowest and highest dominant frequency of the tonal segments (None without any).
    pitch_range: tuple[float, float] | None

    @property
    def silent(self) -> bool:
        return self.dominant_hz is None


class _Cache:
    """A small thread-safe LRU keyed by a digest of the bytes."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: str, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[return-value]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


_CACHE = _Cache(256)


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def hear(data: bytes) -> Hearing:
    """The `Hearing` of an audio file's first sound track (cached by content digest).

    Raises `MediaDecodeError` for bytes PyAV cannot decode or a file without a sound track.
    A file that decodes to no samples gives ``seconds == 0``: callers decide what that means.
    """
    heard = sound_track(data)
    if heard is None:
        raise MediaDecodeError("it has no audio track")
    return heard


def sound_track(data: bytes) -> Hearing | None:
    """The `Hearing` of a container's first sound track, None when it has none."""
    return _CACHE.get_or_compute("hear|" + _digest(data), lambda: _hear(data))


def header(data: bytes) -> tuple[float | None, bool]:
    """(declared duration in seconds or None, has a sound track), read from the container
    header without decoding (cached). Raises `MediaDecodeError` for bytes PyAV cannot open."""
    return _CACHE.get_or_compute("header|" + _digest(data), lambda: _header(data))


def _open(data: bytes) -> Any:
    import av  # the media extra; imported late so importing the emulator is cheap

    try:
        return av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise MediaDecodeError(f"FFmpeg cannot decode it: {exc}") from None


def _header(data: bytes) -> tuple[float | None, bool]:
    with _open(data) as container:
        sound = bool(container.streams.audio)
        if container.duration is not None:
            return float(container.duration) / 1_000_000, sound  # AV_TIME_BASE
        for stream in container.streams:
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base), sound
        return None, sound


def decode_mono(data: bytes, max_seconds: float = MAX_DECODE_SECONDS) -> Vector | None:
    """Mono float PCM at `RATE` of the first sound track, at most ``max_seconds`` of it;
    None when the container has no sound track."""
    import av  # the media extra

    limit = int(max_seconds * RATE)
    chunks: list[Vector] = []
    total = 0
    with _open(data) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        # One-second output frames: far fewer array conversions than one per packet.
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE, frame_size=RATE)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = np.asarray(out.to_ndarray(), dtype=np.float32).reshape(-1)
                    chunks.append(chunk)
                    total += chunk.size
                if total >= limit:
                    break
            else:
                for out in resampler.resample(None):  # flush the resampler's tail
                    chunks.append(np.asarray(out.to_ndarray(), dtype=np.float32).reshape(-1))
        except (av.FFmpegError, OSError, ValueError) as exc:  # a stream that breaks mid-way
            raise MediaDecodeError(f"FFmpeg cannot decode it: {exc}") from None
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks)[:limit]


def _hear(data: bytes) -> Hearing | None:
    pcm = decode_mono(data)
    if pcm is None:
        return None
    return analyse(pcm)


def analyse(pcm: Vector) -> Hearing:
    """The `Hearing` of mono float PCM at `RATE` (exposed for tests)."""
    seconds = pcm.size / RATE
    sound = _trim(np.nan_to_num(pcm.astype(np.float64)))
    if sound.size == 0:
        return _silence(seconds)
    frames = _frames(sound)
    power = np.abs(np.fft.rfft(frames * _WINDOW, axis=1)) ** 2
    power = power[:, _IN_RANGE]
    profiles, pitches, peaks, flat, tonal = [], [], [], [], []
    for start in range(0, len(frames), SEGMENT_FRAMES):
        segment_pcm = frames[start : start + SEGMENT_FRAMES]
        if _dbfs(segment_pcm) < SILENCE_DBFS:
            continue
        spectrum = power[start : start + SEGMENT_FRAMES].mean(axis=0)
        profiles.append(_profile(spectrum))
        hz, share = _peak(spectrum)
        peaks.append((hz, share))
        pitches.append(share * _pitch_bump(hz))
        flat.append(_flatness(spectrum))
        tonal.append(share)
    if not profiles:
        return _silence(seconds)
    total = power.mean(axis=0)
    dominant, _ = _peak(total)
    tonal_peaks = [hz for hz, share in peaks if share >= 0.5]
    pitch_range = (min(tonal_peaks), max(tonal_peaks)) if tonal_peaks else None
    flatness = float(np.mean(flat))
    modulation = _modulation(sound)
    descriptor = np.concatenate(
        [
            np.mean(profiles, axis=0),
            W_PITCH * np.mean(pitches, axis=0),
            W_SHAPE * np.array([flatness, modulation]),
        ]
    ).astype(np.float32)
    descriptor.flags.writeable = False
    return Hearing(
        seconds=seconds,
        descriptor=descriptor,
        level_dbfs=_dbfs(sound),
        dominant_hz=dominant,
        flatness=flatness,
        modulation=modulation,
        tonal=float(np.mean(tonal)),
        voice_band=float(total[_VOICE].sum() / max(float(total.sum()), _TINY)),
        pitch_range=pitch_range,
    )


def _silence(seconds: float) -> Hearing:
    descriptor = np.zeros(DESCRIPTOR_SIZE, dtype=np.float32)
    descriptor.flags.writeable = False
    return Hearing(seconds, descriptor, -math.inf, None, 0.0, 0.0, 0.0, 0.0, None)


def _dbfs(samples: npt.NDArray[np.float64]) -> float:
    return 10.0 * math.log10(float(np.mean(np.square(samples))) + _TINY)


def _trim(pcm: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Without leading and trailing silence (encoder delay and padding, quiet starts)."""
    hops = pcm.size // _HOP
    if hops == 0:
        return pcm if pcm.size and _dbfs(pcm) >= SILENCE_DBFS else pcm[:0]
    loud = np.flatnonzero(_envelope_db(pcm) >= SILENCE_DBFS)
    if loud.size == 0:
        return pcm[:0]
    end = pcm.size if loud[-1] == hops - 1 else (loud[-1] + 1) * _HOP
    return pcm[loud[0] * _HOP : end]


def _envelope_db(pcm: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    hops = pcm.size // _HOP
    energy = np.mean(np.square(pcm[: hops * _HOP].reshape(hops, _HOP)), axis=1)
    return np.asarray(10.0 * np.log10(energy + _TINY), dtype=np.float64)


def _frames(pcm: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    count = max(1, math.ceil(pcm.size / FRAME))
    padded = np.zeros(count * FRAME, dtype=np.float64)
    padded[: pcm.size] = pcm
    return padded.reshape(count, FRAME)


def _profile(spectrum: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    bands = np.bincount(_BAND_OF, weights=spectrum, minlength=N_BANDS) / _BAND_BINS
    relative = 10.0 * np.log10(bands / max(float(bands.max()), _TINY) + _TINY)
    return np.asarray(np.clip(1.0 + relative / DYNAMIC_RANGE_DB, 0.0, 1.0), dtype=np.float64)


def _peak(spectrum: npt.NDArray[np.float64]) -> tuple[float, float]:
    """(peak frequency in Hz, share of the power within 3 bins of it)."""
    k = int(np.argmax(spectrum))
    offset = 0.0
    if 0 < k < spectrum.size - 1:
        a, b, c = (math.log(float(v) + _TINY) for v in spectrum[k - 1 : k + 2])
        denominator = a - 2 * b + c
        offset = 0.5 * (a - c) / denominator if denominator < 0 else 0.0
    first = int(np.flatnonzero(_IN_RANGE)[0])
    hz = (first + k + offset) * RATE / FRAME
    share = float(spectrum[max(0, k - 3) : k + 4].sum() / max(float(spectrum.sum()), _TINY))
    return hz, share


def _pitch_bump(hz: float) -> npt.NDArray[np.float64]:
    position = math.log2(hz / LOW_HZ) / math.log2(HIGH_HZ / LOW_HZ) * (N_PITCH - 1)
    steps = np.arange(N_PITCH, dtype=np.float64)
    return np.asarray(np.exp(-0.5 * ((steps - position) / 0.75) ** 2), dtype=np.float64)


def _flatness(spectrum: npt.NDArray[np.float64]) -> float:
    mean = float(spectrum.mean())
    if mean <= _TINY:
        return 0.0
    return float(np.exp(np.mean(np.log(spectrum + _TINY))) / mean)


def _modulation(pcm: npt.NDArray[np.float64]) -> float:
    """Spread (10th to 90th percentile) of the 16 ms loudness envelope over 30 dB, in [0, 1];
    silent gaps count at `SILENCE_DBFS`."""
    if pcm.size < 4 * _HOP:
        return 0.0
    envelope = np.maximum(_envelope_db(pcm), SILENCE_DBFS)
    low, high = np.percentile(envelope, [10, 90])
    return float(min(1.0, max(0.0, (high - low) / 30.0)))


#: "220 Hz", "1.2 kHz", "440hz": a number (not part of a longer token) and a unit.
_TONE_WORDS = re.compile(r"(?<![\w.,])(\d+(?:\.\d+)?)\s*(k?hz)\b", re.I)
#: Tones mentioned in one text that count (a text listing frequencies is not a sound).
MAX_TONE_MENTIONS = 4


def tone_mentions(text: str) -> list[float]:
    """The frequencies ``text`` names in Hz ("a 220 Hz tone", "1.2 kHz"), in order, once
    each, within the band the descriptor hears (`LOW_HZ` to `HIGH_HZ`)."""
    found: list[float] = []
    for number, unit in _TONE_WORDS.findall(text):
        hz = float(number) * (1000.0 if unit.lower() == "khz" else 1.0)
        if LOW_HZ <= hz < HIGH_HZ and hz not in found:
            found.append(hz)
        if len(found) == MAX_TONE_MENTIONS:
            break
    return found


@lru_cache(maxsize=256)
def tone_descriptor(hz: float) -> Vector:
    """The descriptor of one second of a steady sine at ``hz``: what a recording of that
    tone is heard as, whatever its length, volume or encoding."""
    t = np.arange(RATE, dtype=np.float64) / RATE
    return analyse((0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)).descriptor


def describe(heard: Hearing) -> str:
    """A few words for what the stand-in "heard", from the descriptor's facts (documented
    thresholds, not recognition): silence, broadband noise, speech-like sound, a steady /
    pulsing / changing tone, or a mix of sounds."""
    if heard.silent or heard.dominant_hz is None:
        return "silence"
    if heard.flatness >= 0.35:
        return "broadband noise"
    if heard.modulation >= 0.35 and heard.voice_band >= 0.8 and heard.tonal < 0.8:
        return "speech-like sound"
    if heard.tonal >= 0.5:
        low, high = heard.pitch_range or (heard.dominant_hz, heard.dominant_hz)
        if math.log2(high / low) >= 1 / 12:  # the segments' pitches differ by a semitone+
            return f"a changing tone between {hertz(low)} and {hertz(high)}"
        steady = "a steady tone" if heard.modulation < 0.2 else "a pulsing tone"
        return f"{steady} near {hertz(heard.dominant_hz)}"
    return f"a mix of sounds, strongest near {hertz(heard.dominant_hz)}"


def hertz(hz: float) -> str:
    """440.3 -> "440 Hz", 1234 -> "1.2 kHz"."""
    if hz < 995:
        return f"{round(hz, -1):.0f} Hz"
    return f"{hz / 1000:.1f} kHz"
