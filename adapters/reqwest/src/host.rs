//! The key requests are grouped by: the URL's host and port.

use reqwest::Url;

/// `host:port` of `url` (the port made explicit from the scheme's default),
/// or `""` for a URL without a host.
///
/// Breakers and metrics are kept per value of this key, so
/// `http://api.example.com/a` and `http://api.example.com:80/b` share one.
///
/// ```
/// use brace_reqwest::host_key;
/// use reqwest::Url;
///
/// let url = Url::parse("http://127.0.0.1:8080/users/7?x=1").unwrap();
/// assert_eq!(host_key(&url), "127.0.0.1:8080");
/// let url = Url::parse("https://api.example.com/v1").unwrap();
/// assert_eq!(host_key(&url), "api.example.com:443");
/// ```
pub fn host_key(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => String::new(),
    }
}
