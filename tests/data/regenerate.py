"""Rebuild the small sample corpus in this folder (run from the repo root:
``python -m tests.data.regenerate``). The files are committed; this only documents them."""

from __future__ import annotations

from pathlib import Path

from tests import media_factory as make

HERE = Path(__file__).parent


def main() -> None:
    (HERE / "red_apple.png").write_bytes(make.png((210, 30, 40), size=(96, 96)))
    (HERE / "green_forest.jpg").write_bytes(make.jpeg((30, 150, 60), size=(96, 96)))
    (HERE / "blue_sea.png").write_bytes(make.png((30, 70, 200), size=(96, 96)))
    (HERE / "lighthouse.pdf").write_bytes(
        make.pdf(
            [
                "The Cape Nord lighthouse was built in 1874 from granite blocks.",
                "Its lamp is visible for twenty nautical miles on a clear night.",
                "Grey seals rest on the rocks below the lighthouse every spring.",
            ]
        )
    )
    (HERE / "harbour.mp4").write_bytes(
        make.video(6, fps=2, size=32, colors=((30, 70, 200),) * 3 + ((210, 30, 40),) * 3)
    )
    (HERE / "foghorn.wav").write_bytes(make.wav(seconds=1.0, freq=220.0))
    (HERE / "notes.md").write_text(
        "# Harbour notes\n\nThe ferry to the island leaves at 9:15 every morning.\n"
        "Fresh fish is sold on the quay on Saturdays.\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
