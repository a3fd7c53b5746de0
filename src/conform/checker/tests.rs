//! The checker's tests: judging, skipping, cut and stalled bodies.

use std::io::{Read, Write};

use super::*;

/// Audit 5, F3: "accept invitation" passed on 409 (another agent had
/// accepted first): the success was never observed. Such an answer is
/// now a skipped check, neither pass nor failure; a 200 stays a pass.
#[test]
fn an_answer_someone_else_caused_is_a_skipped_check_not_a_pass() {
    let mut c = test_checker("http://127.0.0.1:9/v1".to_owned());
    let op = Operation::AcceptInvitation;
    for status in [409, 200] {
        c.record(
            "accept invitation",
            op.id(),
            Kind::Happy,
            &[200],
            Some(status),
            String::new(),
        );
        c.skip_last_if(409, "taken first");
    }
    let statuses: Vec<Option<u16>> = c.results.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(200)]);
    assert_eq!(c.skipped.len(), 1);
    assert_eq!(
        (c.skipped[0].name.as_str(), c.skipped[0].reason.as_str()),
        ("accept invitation", "taken first")
    );
    assert!(
        c.watch.line().starts_with("1 checks, 0 failed"),
        "{}",
        c.watch.line()
    );
}

/// A server on 127.0.0.1:0 that answers one request with `head` and
/// `body`, then closes the connection.
fn answer_once(head: String, body: Vec<u8>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf);
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&body);
    });
    format!("http://{addr}/v1")
}

fn checker(base_url: String) -> Checker {
    test_checker(base_url)
}

/// A server on 127.0.0.1:0 that answers every request with a 200 whose
/// headers promise 100 bytes, sends 6, and then nothing (the
/// connection stays open).
fn stall_after_headers() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                  Content-Length: 100\r\n\r\n{\"sett",
            );
            open.push(stream);
        }
    });
    format!("http://{addr}/v1")
}

/// Audit 8, finding 5: a target that sends headers and then stalls the
/// body never tripped the give-up counter (each such answer counted as
/// a response), so the suite took 15 s a request for its whole tour.
/// A body that does not complete in time now counts as no response.
#[tokio::test]
async fn a_body_that_stalls_after_the_headers_counts_toward_giving_up() {
    let mut c = checker(stall_after_headers());
    c.timeout = Duration::from_millis(200);
    let call = Call::new("get app", Operation::GetApp, &["conform-test-app"]);
    for _ in 0..super::super::GIVE_UP_SILENT {
        assert!(!c.watch.stopped());
        let answer = c
            .exchange(c.build_call(&call, call.creds, Payload::None))
            .await;
        c.judge(call.name, call.op, call.kind, &call.expect, answer);
    }
    let check = c.results.last().unwrap();
    assert_eq!(
        check.message,
        "the 200 response timed out before its whole body arrived (200 ms for the whole exchange)"
    );
    assert!(
        c.watch.stopped(),
        "3 stalled bodies in a row: the suite gives up"
    );
    let why = c.watch.gave_up_reason().unwrap();
    assert!(
        why.starts_with(
            "the target does not answer: 3 requests in a row got no HTTP response \
                         (the last: the 200 response timed out before its whole body arrived \
                         (200 ms for the whole exchange))"
        ),
        "{why}"
    );
}

/// A 200 download whose connection ends after half its Content-Length
/// fails its check, saying the body was cut off.
#[tokio::test]
async fn a_download_cut_off_before_its_content_length_fails() {
    let body = vec![0x89; 64];
    let head = "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 128\r\n\
                Connection: close\r\n\r\n"
        .to_owned();
    let mut c = checker(answer_once(head, body));
    let call = Call::new("download media", Operation::GetMedia, &["m-1"]);
    let answer = c
        .exchange(c.build_call(&call, call.creds, Payload::None))
        .await;
    let out = c.judge(call.name, call.op, call.kind, &call.expect, answer);
    assert_eq!(out, None);
    let check = c.results.last().unwrap();
    assert!(!check.passed, "{check:?}");
    assert_eq!(check.status, Some(200));
    assert_eq!(
        check.message,
        "the 200 response was cut off: the connection ended before its whole body arrived"
    );
}
