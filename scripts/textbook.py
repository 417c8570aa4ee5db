#!/usr/bin/env python3
"""Is the code still a textbook? Measures what issue #12 asks of every chapter.

For each chapter crate (crates/NN-name) and its book page (docs/src/NN-name.md):
  - files:    the longest source files a student reads (a trailing `#[cfg(test)]` module does
              not count; neither does a file whose first line says `//! Data:`, a table);
  - listings: the size of every `{{#include FILE:ANCHOR}}` on the page, its median and maximum;
  - prose:    two listings with nothing but blank lines between them;
  - anchors:  `ANCHOR: name` regions in a chapter's code that no page includes;
  - cycles:   modules of one crate that import each other, directly or around a loop, and
              modules below the top module (`server`) that import it (`demo`, which runs
              server and client together, is above both).

    python3 scripts/textbook.py               # the report, every chapter
    python3 scripts/textbook.py --chapter 03  # one chapter
    python3 scripts/textbook.py --check       # exit 1 if any limit below is broken (CI)
"""

import argparse
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The limits, from issue #12: a file a student reads fits a sitting; a listing fits a page,
# as in the Rust Book (whose chapter 21 listings have a median of 16 lines).
MAX_FILE_LINES = 400
MAX_LISTING_LINES = 60
MAX_MEDIAN_LISTING_LINES = 25

INCLUDE = re.compile(
    r"\{\{#(?:rustdoc_)?include\s+([^}:\s]+)(?::([A-Za-z_][\w-]*))?(?::(\d*)(?::(\d*))?)?[^}]*\}\}"
)
ANCHOR = re.compile(r"^\s*(?://|#)\s*ANCHOR:\s*(\S+)")
ANCHOR_ANY = re.compile(r"^\s*(?://|#)\s*ANCHOR(_END)?:\s*\S+")
CRATE_PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
USE_CRATE_GROUP = re.compile(r"\buse\s+crate::\{([^;]*)\}", re.S)


def chapters(only):
    for crate in sorted((ROOT / "crates").glob("[0-9][0-9]-*")):
        number = crate.name[:2]
        if only and number != only:
            continue
        yield number, crate, ROOT / "docs" / "src" / f"{crate.name}.md"


def lesson_lines(path):
    """Lines a student reads: the file without its trailing test module."""
    lines = path.read_text().splitlines()
    if lines and lines[0].startswith("//! Data:"):
        return None
    for i, line in enumerate(lines):
        if line.strip() == "#[cfg(test)]" and i + 1 < len(lines) and lines[i + 1].startswith("mod tests"):
            return i
    return len(lines)


def anchor_sizes(path):
    """{anchor: number of code lines in its region(s)}, marker lines left out."""
    sizes, open_ = {}, {}
    for line in path.read_text().splitlines():
        start = ANCHOR.match(line)
        end = re.match(r"^\s*(?://|#)\s*ANCHOR_END:\s*(\S+)", line)
        if start:
            open_[start.group(1)] = True
            sizes.setdefault(start.group(1), 0)
        elif end:
            open_.pop(end.group(1), None)
        elif not ANCHOR_ANY.match(line):
            for name in open_:
                sizes[name] += 1
    return sizes


def page_listings(page):
    """[(page line, file, anchor, size)] and the pairs of listings with no prose between."""
    text = page.read_text().splitlines()
    listings, back_to_back = [], []
    in_fence, fence_has_include, last_listing_end, prose_since = False, False, None, True
    for number, line in enumerate(text, 1):
        if line.lstrip().startswith("```"):
            if not in_fence:
                in_fence, fence_has_include, fence_start = True, False, number
            else:
                in_fence = False
                if fence_has_include:
                    if last_listing_end is not None and not prose_since:
                        back_to_back.append((last_listing_end, fence_start))
                    last_listing_end, prose_since = number, False
                else:
                    prose_since = True
            continue
        if in_fence:
            for match in INCLUDE.finditer(line):
                fence_has_include = True
                file = (page.parent / match.group(1)).resolve()
                anchor = match.group(2)
                if not file.exists():
                    size = None
                elif anchor:
                    size = anchor_sizes(file).get(anchor)
                else:
                    # mdBook's ranges: `file:N` is line N, `file:N:M` lines N to M, `file:N:`
                    # line N on, `file::M` up to line M.
                    total = len(file.read_text().splitlines())
                    start, end = match.group(3), match.group(4)
                    first = int(start) if start else 1
                    if start is None:
                        last = total
                    elif end is None:
                        last = first
                    else:
                        last = int(end) if end else total
                    size = max(0, min(last, total) - first + 1)
                listings.append((number, file, anchor, size))
        elif line.strip():
            prose_since = True
    return listings, back_to_back


def used_anchors():
    used = set()
    for page in (ROOT / "docs" / "src").glob("*.md"):
        for match in INCLUDE.finditer(page.read_text()):
            if match.group(2):
                used.add(((page.parent / match.group(1)).resolve(), match.group(2)))
    return used


def module_of(src, path):
    rel = path.relative_to(src)
    return rel.parts[0].removesuffix(".rs")


def imports(src):
    """{module: set of crate modules it names}, for the library's top-level modules."""
    graph = {}
    for path in sorted(src.rglob("*.rs")):
        module = module_of(src, path)
        if module in ("main", "lib"):
            continue
        text = path.read_text()
        cut = text.find("#[cfg(test)]\nmod tests")
        text = text if cut < 0 else text[:cut]
        named = set(CRATE_PATH.findall(text))
        for group in USE_CRATE_GROUP.findall(text):
            named.update(re.findall(r"(?:^|[,{\s])([a-z_][a-z0-9_]*)(?=::|\s*[,}]|\s*$)", group))
        if path.parent == src:  # `super::x` in a top-level file names a sibling
            named.update(re.findall(r"\bsuper::([a-z_][a-z0-9_]*)", text))
        graph.setdefault(module, set()).update(m for m in named if m != module)
    modules = set(graph)
    return {m: {n for n in deps if n in modules} for m, deps in graph.items()}


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chapter", metavar="NN", help="one chapter, e.g. 03")
    parser.add_argument("--check", action="store_true", help="exit 1 when a limit is broken")
    args = parser.parse_args()

    used = used_anchors()
    problems = []
    for number, crate, page in chapters(args.chapter):
        src = crate / "src"
        print(f"== {crate.name}")
        files = []
        for path in sorted(src.rglob("*.rs")):
            counted = lesson_lines(path)
            if counted is not None:
                files.append((counted, path.relative_to(ROOT)))
        files.sort(reverse=True)
        longest = ", ".join(f"{p.name} {n}" for n, p in files[:3])
        print(f"   longest files: {longest}")
        for n, p in files:
            if n > MAX_FILE_LINES:
                problems.append(f"{p}: {n} lines (limit {MAX_FILE_LINES}, tests aside)")

        if page.exists():
            listings, back_to_back = page_listings(page)
            sizes = [s for *_, s in listings if s is not None]
            if sizes:
                print(
                    f"   listings: {len(sizes)}, median {statistics.median(sizes):g} lines, "
                    f"longest {max(sizes)}"
                )
                if statistics.median(sizes) > MAX_MEDIAN_LISTING_LINES:
                    problems.append(
                        f"{page.relative_to(ROOT)}: median listing {statistics.median(sizes):g} "
                        f"lines (limit {MAX_MEDIAN_LISTING_LINES})"
                    )
            for line, file, anchor, size in listings:
                where = f"{page.relative_to(ROOT)}:{line}"
                if size is None:
                    problems.append(f"{where}: {file.name}:{anchor} does not resolve")
                elif size > MAX_LISTING_LINES:
                    problems.append(
                        f"{where}: listing {file.name}:{anchor} is {size} lines "
                        f"(limit {MAX_LISTING_LINES})"
                    )
            for end, start in back_to_back:
                problems.append(
                    f"{page.relative_to(ROOT)}:{start}: listing right after the one ending at "
                    f"line {end}, with no prose between"
                )

        # The chapter's code, and the tutorial's Python the page shows beside it.
        python = (ROOT / "docs" / "src" / "python").glob(f"{number}-*.py")
        for path in sorted([*crate.rglob("*.rs"), *python]):
            if "target" in path.parts:
                continue
            for line in path.read_text().splitlines():
                match = ANCHOR.match(line)
                if match and (path.resolve(), match.group(1)) not in used:
                    problems.append(
                        f"{path.relative_to(ROOT)}: anchor `{match.group(1)}` is used by no page"
                    )

        graph = imports(src)
        for component in cycles(graph):
            problems.append(f"{crate.name}: module cycle among {', '.join(component)}")
        for module, deps in sorted(graph.items()):
            # `demo` runs server and client in one process: it sits above both.
            if "server" in deps and module not in ("server", "demo"):
                problems.append(f"{crate.name}: {module} imports the top module `server`")
        edges = sum(len(d) for d in graph.values())
        print(f"   modules: {len(graph)}, imports between them: {edges}")

    if problems:
        print(f"\n{len(problems)} problem(s):")
        for p in problems:
            print(f"  {p}")
    else:
        print("\nno problems")
    return 1 if problems and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
