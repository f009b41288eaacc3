"""The output a page shows for a block, compared with what the block printed: `# Output: ...` comments in
the block (`# Output:` over `# ...` lines for several), and an "Output:" block right after it (compared
as doctest compares, with ELLIPSIS and NORMALIZE_WHITESPACE). A `>>>` session compares its own output
(page.py runs it with doctest)."""

import doctest
import re

from .blocks import Block, shows_output_of

OUTPUT_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
_OUTPUT_COMMENT = re.compile(r"^\s*#\s*(?:output|prints?)\s*:\s*(?P<text>.*)$", re.IGNORECASE)
NOTHING_PRINTED = "not compared: the block prints nothing (the output shown is a result, not printed)"
MATCHES = "matches the output the page shows"


def compare(blocks: list[Block], index: int, printed: str) -> tuple[str | None, str | None]:
    """(note, difference) for blocks[index], which printed `printed`: (None, None) when the page shows no
    output for it, a note when it matches or cannot be compared, a difference when it does not match."""
    expected = output_comments(blocks[index].source)
    following = blocks[index + 1] if index + 1 < len(blocks) and shows_output_of(blocks, index + 1) else None
    if not expected and following is None:
        return None, None
    if not printed.strip():
        return NOTHING_PRINTED, None
    position = 0
    for text in expected:
        match = pattern(text).search(printed, position)
        if match is None:
            return None, f"expected (# Output:) {text!r}\nprinted: {printed[-2000:]!r}"
        position = match.end()
    if following is not None and not doctest.OutputChecker().check_output(following.source, printed, OUTPUT_FLAGS):
        return None, f"expected (line {following.line}):\n{following.source}\nprinted:\n{printed[:2000]}"
    return MATCHES, None


def output_comments(source: str) -> list[str]:
    """The outputs a block states in comments: `# Output: text`, or `# Output:` over `# ...` lines."""
    found, lines = [], source.splitlines()
    for index, line in enumerate(lines):
        match = _OUTPUT_COMMENT.match(line)
        if not match:
            continue
        text = match.group("text").strip()
        if not text:
            following = []
            for after in lines[index + 1 :]:
                if not after.strip().startswith("#"):
                    break
                following.append(after.strip()[1:].strip())
            text = "\n".join(following)
        if text:
            found.append(text)
    return found


def pattern(text: str) -> re.Pattern:
    """Expected output as a pattern: whitespace runs match any whitespace, `...` matches anything."""
    parts = [r"\s+".join(map(re.escape, piece.split())) for piece in text.split("...")]
    return re.compile(r".*?".join(parts), re.DOTALL)
