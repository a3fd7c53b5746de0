//! Forms laid out and rendered, and download checks.

use super::*;
use serde_json::{Value, json};

#[test]
fn a_literal_form_is_laid_out_once_as_a_valid_multipart_body() {
    let spec = layout(&[("chatId", Err("c-1".to_owned())), ("media", Ok(Err(png())))]);
    assert!(spec.is_literal());
    let content_type = std::str::from_utf8(&spec.content_type).unwrap();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap();
    let body = match spec.pieces.as_slice() {
        [Piece::Fixed(b)] => b.clone(),
        other => panic!("not one fixed piece: {other:?}"),
    };
    let want = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"chatId\"\r\n\r\nc-1\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a.png\"\r\n\
         Content-Type: image/png\r\n\r\nPNGDATA\r\n--{boundary}--\r\n"
    );
    assert_eq!(std::str::from_utf8(&body).unwrap(), want);
}

/// Variable 0 is `chat_id` = "c-9"; nothing else is set.
struct Cx(rand::rngs::SmallRng, Value);

impl RenderContext for Cx {
    fn var(&self, id: VarId) -> Option<&Value> {
        (id.0 == 0).then_some(&self.1)
    }
    fn vu(&self) -> u64 {
        1
    }
    fn iteration(&self) -> u64 {
        0
    }
    fn rng(&mut self) -> &mut rand::rngs::SmallRng {
        &mut self.0
    }
}

fn cx() -> Cx {
    use rand::SeedableRng;
    Cx(rand::rngs::SmallRng::seed_from_u64(1), json!("c-9"))
}

fn png() -> FilePart {
    FilePart {
        name: "a.png".to_owned(),
        content_type: "image/png".to_owned(),
        bytes: Bytes::from_static(b"PNGDATA"),
    }
}

#[test]
fn a_form_without_templates_is_sent_as_the_shared_bytes_without_a_copy() {
    let spec = layout(&[("media", Ok(Err(png())))]);
    let (first, second) = (spec.render(&mut cx()), spec.render(&mut cx()));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.as_ptr(), second.as_ptr());
}

#[test]
fn templated_fields_are_rendered_between_the_fixed_parts() {
    let chat = Template::parse("{{ chat_id }}!", &mut |n| {
        (n == "chat_id").then_some(VarId(0))
    })
    .unwrap();
    let spec = layout(&[
        ("chatId", Ok(Ok(chat.clone()))),
        ("media", Ok(Err(png()))),
        ("senderId", Err("u-1".to_owned())),
    ]);
    assert!(!spec.is_literal());
    assert_eq!(spec.vars().collect::<Vec<_>>(), [VarId(0)]);
    let body = spec.render(&mut cx()).unwrap();
    let text = String::from_utf8_lossy(&body);
    let b = "chatload-form-7f3a9c1e5b0";
    let want = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"chatId\"\r\n\r\nc-9!\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a.png\"\r\n\
         Content-Type: image/png\r\n\r\nPNGDATA\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"senderId\"\r\n\r\nu-1\r\n--{b}--\r\n"
    );
    assert_eq!(text, want);
    // Sized exactly: the files are copied once, never grown into.
    assert_eq!(spec.fixed_len + "c-9!".len(), body.len());
    // An unset variable is an error, not a body with a hole.
    let unset = Template::parse("{{ x }}", &mut |_| Some(VarId(5))).unwrap();
    let spec = layout(&[("x", Ok(Ok(unset)))]);
    assert_eq!(spec.render(&mut cx()), Err(UnsetVariable(VarId(5))));
}

#[test]
fn the_boundary_avoids_bytes_a_file_contains() {
    let file = FilePart {
        name: "x".to_owned(),
        content_type: "text/plain".to_owned(),
        bytes: Bytes::from_static(b"--chatload-form-7f3a9c1e5b0 inside"),
    };
    let spec = layout(&[("f", Ok(Err(file)))]);
    assert!(
        spec.content_type
            .ends_with(b"boundary=chatload-form-7f3a9c1e5b1")
    );
}

#[test]
fn a_download_check_compares_size_and_media_type() {
    let check = MediaCheck {
        size: Some(7),
        content_type: Some("image/png".to_owned()),
    };
    assert_eq!(check.mismatch(7, Some("image/png")), None);
    assert_eq!(check.mismatch(7, Some("IMAGE/PNG; x=1")), None);
    assert_eq!(
        check.mismatch(8, Some("image/png")),
        Some(MediaMismatch::Size)
    );
    assert_eq!(
        check.mismatch(7, Some("image/gif")),
        Some(MediaMismatch::Type)
    );
    assert_eq!(check.mismatch(7, None), Some(MediaMismatch::Type));
    assert_eq!(MediaCheck::default().mismatch(0, None), None);
}
