//! The book's console transcripts of `02-multi-conn`, on every page, replayed against today's
//! binary: changing what the program prints without updating the page fails here, naming the
//! page line. How blocks are replayed and compared: `testkit::transcript`.

use std::path::Path;

#[test]
fn book_transcripts_match_todays_binary() {
    let binary = Path::new(env!("CARGO_BIN_EXE_02-multi-conn"));
    testkit::transcript::check_chapter(
        "02-multi-conn",
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/src"),
        binary.parent().expect("a binary lives in a folder"),
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("book-02"),
    );
}
