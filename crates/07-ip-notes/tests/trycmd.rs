//! The one-shot commands, as transcripts: each `tests/cmd/*.md` file holds commands and the
//! output they must print (`[..]` matches anything on a line). The book's "try it" sections
//! quote the same transcripts, so they cannot go stale.

#[test]
fn transcripts() {
    trycmd::TestCases::new()
        .register_bin("07-ip-notes", trycmd::cargo::cargo_bin!("07-ip-notes"))
        .case("tests/cmd/*.md");
}
