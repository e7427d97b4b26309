"""Audio I/O without a room: a WAV (or PCM) file as the user's microphone, and the agent's
voice captured to a WAV. Used by the tests and the bench; handy for trying the pipeline
locally too."""

from __future__ import annotations

import asyncio
import time
import wave
from pathlib import Path

from livekit import rtc
from livekit.agents import utils
from livekit.agents.voice.io import AudioInput, AudioOutput, AudioOutputCapabilities

FRAME_MS = 20


class PcmInput(AudioInput):
    """Frames pushed by `play()` (paced like a microphone) reach the session."""

    def __init__(self, sample_rate: int = 16000) -> None:
        super().__init__(label="PcmInput")
        self.sample_rate = sample_rate
        self._ch = utils.aio.Chan[rtc.AudioFrame]()

    async def __anext__(self) -> rtc.AudioFrame:
        return await self._ch.__anext__()

    async def play(self, pcm: bytes, *, realtime: float = 1.0) -> None:
        """Push 16-bit mono PCM in 20 ms frames; `realtime=0` pushes without pacing."""
        samples = self.sample_rate * FRAME_MS // 1000
        size = samples * 2
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i, offset in enumerate(range(0, len(pcm), size)):
            chunk = pcm[offset : offset + size].ljust(size, b"\0")
            self._ch.send_nowait(rtc.AudioFrame(chunk, self.sample_rate, 1, samples))
            if realtime:
                due = start + (i + 1) * FRAME_MS / 1000 / realtime
                await asyncio.sleep(max(0.0, due - loop.time()))

    async def silence(self, seconds: float, *, realtime: float = 1.0) -> None:
        await self.play(b"\0\0" * int(self.sample_rate * seconds), realtime=realtime)

    def close(self) -> None:
        self._ch.close()


def read_wav(path: str | Path) -> tuple[bytes, int]:
    """(16-bit mono PCM, sample rate) of a WAV file."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise ValueError("expected a 16-bit mono WAV")
        return wav.readframes(wav.getnframes()), wav.getframerate()


class WavOutput(AudioOutput):
    """Captures every frame the agent speaks; playback is reported as instantaneous, so
    turns follow each other without waiting for real time."""

    def __init__(self) -> None:
        super().__init__(
            label="WavOutput",
            next_in_chain=None,
            sample_rate=None,
            capabilities=AudioOutputCapabilities(pause=False),
        )
        self.frames: list[rtc.AudioFrame] = []
        self.first_frame_at: list[float] = []  # time.monotonic() of each segment's first frame
        self._pushed = 0.0

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if not self._pushed:
            self.first_frame_at.append(time.monotonic())
            self.on_playback_started(created_at=time.time())
        self._pushed += frame.duration
        self.frames.append(frame)

    def flush(self) -> None:
        super().flush()
        if not self._pushed:
            return
        played, self._pushed = self._pushed, 0.0
        asyncio.get_running_loop().call_soon(
            lambda: self.on_playback_finished(
                playback_position=played, interrupted=False, synchronized_transcript=None
            )
        )

    def clear_buffer(self) -> None:
        if self._pushed:
            played, self._pushed = self._pushed, 0.0
            self.on_playback_finished(
                playback_position=played, interrupted=True, synchronized_transcript=None
            )

    @property
    def seconds(self) -> float:
        return sum(f.duration for f in self.frames)

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        rate = self.frames[0].sample_rate if self.frames else 24000
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            for frame in self.frames:
                wav.writeframes(frame.data.tobytes())
        return path
