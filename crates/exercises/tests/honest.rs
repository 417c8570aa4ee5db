//! Every check proved both ways, over real sockets: the reference passes; the untouched
//! student crate fails with the message its exercise is about; every wrong answer fails.
//!
//! Everything is built by one cargo run, shared by all the tests (one target dir); the tests
//! then grade in parallel, as cargo runs tests.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use exercise::build::{build_all, package_and_bin};
use exercise::catalog::{EXERCISES, Exercise, Variant, find, grade_built};

/// Every binary built once, by name.
fn built() -> &'static HashMap<String, PathBuf> {
    static BUILT: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BUILT.get_or_init(|| build_all().unwrap_or_else(|e| panic!("{e}")))
}

fn grade(
    id: &str,
    variant: &Variant,
) -> (&'static Exercise, Result<(), exercise::verdict::Failure>) {
    let exercise = find(id).unwrap_or_else(|| panic!("no exercise {id}"));
    let (_, bin) = package_and_bin(exercise, variant);
    let path = built().get(&bin).unwrap_or_else(|| panic!("{bin} was not built")).clone();
    (exercise, grade_built(exercise, variant, path, false))
}

fn reference_passes(id: &str) {
    let (_, result) = grade(id, &Variant::Reference);
    if let Err(failure) = result {
        panic!("the reference of {id} must pass:\n{failure}");
    }
}

fn untouched_fails(id: &str) {
    let (exercise, result) = grade(id, &Variant::Student);
    let failure = result.expect_err("the untouched crate must fail its check");
    let text = failure.to_string();
    assert!(
        text.contains(exercise.untouched_says),
        "{id} untouched must fail saying {:?}, but said:\n{text}",
        exercise.untouched_says
    );
    assert!(!failure.repro.is_empty() && failure.book.starts_with("docs/src/"), "{text}");
}

fn wrong_fails(id: &str, name: &str) {
    let (_, result) = grade(id, &Variant::Wrong(name.to_owned()));
    let failure = result.expect_err("a wrong answer must fail its check");
    assert!(!failure.got.is_empty() && !failure.book.is_empty(), "{failure}");
}

/// One test per exercise and program, so they run in parallel and a failure names its case.
macro_rules! honest {
    ($($id:literal => $reference:ident, $untouched:ident, [$($wrong:ident = $name:literal),+];)+) => {
        $(
            #[test]
            fn $reference() {
                reference_passes($id);
            }
            #[test]
            fn $untouched() {
                untouched_fails($id);
            }
            $(
                #[test]
                fn $wrong() {
                    wrong_fails($id, $name);
                }
            )+
        )+

        /// The table above covers every exercise and every wrong answer in the catalog.
        #[test]
        fn every_exercise_and_wrong_answer_is_tested() {
            let table: Vec<(&str, Vec<&str>)> = vec![$(($id, vec![$($name),+])),+];
            for exercise in EXERCISES {
                let entry = table.iter().find(|(id, _)| *id == exercise.id);
                let (_, wrong) = entry.unwrap_or_else(|| panic!("{} is not in the table", exercise.id));
                assert_eq!(wrong.as_slice(), exercise.wrong, "{}: wrong answers", exercise.id);
            }
            assert_eq!(table.len(), EXERCISES.len());
        }
    };
}

honest! {
    "01-echo-server" => echo_server_reference_passes, echo_server_skeleton_fails,
        [echo_server_single_recv_fails = "single-recv", echo_server_dies_on_reset_fails = "dies-on-reset"];
    "01-fix-client" => fix_client_reference_passes, fix_client_unfixed_fails,
        [fix_client_until_short_read_fails = "until-short-read",
         fix_client_waits_for_close_fails = "waits-for-close"];
    "01-line-echo" => line_echo_reference_passes, line_echo_unextended_fails,
        [line_echo_limit_per_read_fails = "limit-per-read", line_echo_off_by_one_fails = "off-by-one"];
    "02-mio-echo" => mio_echo_reference_passes, mio_echo_skeleton_fails,
        [mio_echo_drops_on_wouldblock_fails = "drops-on-wouldblock",
         mio_echo_no_writable_fails = "no-writable"];
    "02-spin-fix" => spin_fix_reference_passes, spin_fix_unfixed_fails,
        [spin_fix_never_pollout_fails = "never-pollout", spin_fix_sleep_fails = "sleep"];
    "02-pool-lock" => pool_lock_reference_passes, pool_lock_unfixed_fails,
        [pool_lock_lock_outside_loop_fails = "lock-outside-loop",
         pool_lock_try_recv_spin_fails = "try-recv-spin"];
    "03-frames" => frames_reference_passes, frames_skeleton_fails,
        [frames_little_endian_fails = "little-endian", frames_clears_buffer_fails = "clears-buffer",
         frames_no_limit_fails = "no-limit"];
    "03-slow-reader" => slow_reader_reference_passes, slow_reader_unfixed_fails,
        [slow_reader_no_shutdown_fails = "no-shutdown", slow_reader_unbounded_fails = "unbounded"];
    "03-who" => who_reference_passes, who_unextended_fails,
        [who_prefix_fails = "prefix", who_tells_everyone_fails = "tells-everyone"];
    "04-ping" => ping_reference_passes, ping_skeleton_fails,
        [ping_counts_replies_fails = "counts-replies", ping_believes_anyone_fails = "believes-anyone"];
    "04-retry" => retry_reference_passes, retry_unfixed_fails,
        [retry_no_retry_fails = "no-retry", retry_any_sender_fails = "any-sender"];
    "04-udp-echo" => udp_echo_reference_passes, udp_echo_unfixed_fails,
        [udp_echo_zero_means_closed_fails = "zero-means-closed"];
    "05-safe-path" => safe_path_reference_passes, safe_path_skeleton_fails,
        [safe_path_check_before_decode_fails = "check-before-decode",
         safe_path_join_absolute_fails = "join-absolute"];
    "05-fix-response" => fix_response_reference_passes, fix_response_unfixed_fails,
        [fix_response_length_11_fails = "length-11",
         fix_response_close_delimited_fails = "close-delimited",
         fix_response_zero_means_wait_fails = "zero-means-wait"];
    "05-range" => range_reference_passes, range_unextended_fails,
        [range_head_with_body_fails = "head-with-body", range_end_exclusive_fails = "end-exclusive"];
    "06-chunked" => chunked_reference_passes, chunked_skeleton_fails,
        [chunked_collects_body_fails = "collects-body", chunked_no_extensions_fails = "no-extensions"];
    "06-short-read" => short_read_reference_passes, short_read_unfixed_fails,
        [short_read_until_close_fails = "until-close"];
    "06-redirect" => redirect_reference_passes, redirect_unextended_fails,
        [redirect_any_host_fails = "any-host", redirect_host_only_fails = "host-only"];
    "07-classify" => classify_reference_passes, classify_skeleton_fails,
        [classify_private_slash16_fails = "private-slash16", classify_text_prefix_fails = "text-prefix"];
    "07-reuseaddr" => reuseaddr_reference_passes, reuseaddr_unfixed_fails,
        [reuseaddr_after_bind_fails = "after-bind"];
    "07-cidr" => cidr_reference_passes, cidr_unextended_fails,
        [cidr_textbook_formula_fails = "textbook-formula", cidr_shift_overflow_fails = "shift-overflow"];
}

/// Each exercise has three hints or more, a wrong answer, and a book link that resolves to a
/// heading of its page (mdBook's ids: lower case, punctuation dropped, spaces to dashes).
#[test]
fn hints_wrong_answers_and_book_links_are_there() {
    let root = exercise::build::workspace_root();
    for exercise in EXERCISES {
        assert!(exercise.hints.len() >= 3, "{}: at least three hints", exercise.id);
        assert!(!exercise.wrong.is_empty(), "{}: at least one wrong answer", exercise.id);
        assert!(root.join(exercise.folder()).join("src/main.rs").is_file(), "{}", exercise.id);
        let page =
            std::fs::read_to_string(root.join("docs/src").join(exercise.page)).expect("page");
        let exercises = page.split("## Exercises").nth(1).unwrap_or("");
        assert!(
            exercises.contains(&format!("`{}`", exercise.id)),
            "{}: not in {}'s Exercises",
            exercise.id,
            exercise.page
        );
        let mut links = vec![exercise.book.to_owned()];
        for text in exercise.hints {
            links.extend(
                text.split_whitespace().filter(|w| w.starts_with("docs/src/")).map(str::to_owned),
            );
        }
        // The sections the checks' own steps point to, in the chapter's checks module.
        let checks = root.join(format!("crates/exercises/src/checks/ch{}.rs", exercise.chapter()));
        let source = std::fs::read_to_string(checks).expect("checks module");
        for piece in source.split("\"docs/src/").skip(1) {
            let link = piece.split(['"', '{']).next().unwrap_or("");
            if link.contains(".md#") && !link.ends_with('#') {
                links.push(format!("docs/src/{link}"));
            }
        }
        for link in links {
            let (page, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let text =
                std::fs::read_to_string(root.join(page)).unwrap_or_else(|e| panic!("{link}: {e}"));
            let ids: Vec<String> = text
                .lines()
                .filter(|l| l.starts_with('#'))
                .map(|l| heading_id(l.trim_start_matches('#')))
                .collect();
            assert!(
                anchor.is_empty() || ids.iter().any(|id| id == anchor),
                "{}: no heading #{anchor} in {page}",
                exercise.id
            );
        }
    }
}

fn heading_id(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}
