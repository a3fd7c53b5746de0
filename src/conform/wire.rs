//! What the wire says about one exchange beyond its status and body: a
//! response's headers the suite cannot read it by (two `Content-Type`s, a
//! `Content-Encoding` it did not ask for), and why a request got no
//! response head at all (the connection closed or was reset first, or what
//! else failed), in words a failed check can carry.

/// What is wrong with a response's headers themselves: more than one
/// `Content-Type` (which one describes the body?), or a `Content-Encoding`
/// the suite did not ask for (it sends no `Accept-Encoding`, so the body
/// must come as is).
pub(super) fn header_problem(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let values = |name| {
        headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<String>>()
    };
    let types = values(reqwest::header::CONTENT_TYPE);
    if types.len() > 1 {
        return Some(format!(
            "the response has {} Content-Type headers ({}); it must have one",
            types.len(),
            types.join(", ")
        ));
    }
    let encodings: Vec<String> = values(reqwest::header::CONTENT_ENCODING)
        .into_iter()
        .filter(|e| !e.trim().eq_ignore_ascii_case("identity"))
        .collect();
    if encodings.is_empty() {
        return None;
    }
    Some(format!(
        "the response has Content-Encoding {}, which the suite did not ask for (it sends no \
         Accept-Encoding)",
        encodings.join(", ")
    ))
}

/// Why a request got no response head: the connection closed (or was
/// reset) before one arrived, or what else failed.
pub(super) fn no_response_head(e: &reqwest::Error) -> String {
    let mut source = std::error::Error::source(e);
    let mut innermost = None;
    while let Some(err) = source {
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
        {
            return "the connection closed before any response head arrived".to_owned();
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionReset
        {
            return "the connection was reset before any response head arrived".to_owned();
        }
        innermost = Some(err.to_string());
        source = err.source();
    }
    match innermost {
        Some(why) => format!("no response head arrived: {why}"),
        None => "no response head arrived".to_owned(),
    }
}
