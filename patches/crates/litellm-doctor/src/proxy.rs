//! Which proxy, if any, the probes go through: the environment as reqwest reads it
//! (hyper-util's matcher), so a refused proxy is not reported as a refused backend.

use std::net::IpAddr;

/// The proxy a request to the base URL goes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRoute {
    /// The variable it comes from (`HTTPS_PROXY`, `http_proxy`, `ALL_PROXY`, ...).
    pub var: String,
    /// `host:port` of the proxy (no credentials).
    pub host: String,
}

/// What the environment says about proxies for `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxySetting {
    NotSet,
    Via(ProxyRoute),
    /// A proxy is set, but `NO_PROXY` (named) exempts the host.
    Exempt {
        var: String,
        no_proxy_var: String,
    },
}

impl ProxySetting {
    /// `HTTPS_PROXY`/`https_proxy` for https, `HTTP_PROXY`/`http_proxy` for http (the first
    /// set of each pair, none under CGI), else `ALL_PROXY`/`all_proxy`; `NO_PROXY`/`no_proxy`
    /// exempts hosts (`*`, domains with their subdomains, IP addresses and networks).
    pub fn for_url(url: &str, env: &dyn Fn(&str) -> Option<String>) -> Self {
        if env("REQUEST_METHOD").is_some() {
            return Self::NotSet;
        }
        let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
        let scheme_vars: &[&str] = if scheme.eq_ignore_ascii_case("https") {
            &["HTTPS_PROXY", "https_proxy"]
        } else {
            &["HTTP_PROXY", "http_proxy"]
        };
        let first_set = |names: &[&str]| {
            names
                .iter()
                .find_map(|name| env(name).map(|value| (name.to_string(), value)))
                .filter(|(_, value)| !value.trim().is_empty())
        };
        let Some((var, value)) =
            first_set(scheme_vars).or_else(|| first_set(&["ALL_PROXY", "all_proxy"]))
        else {
            return Self::NotSet;
        };
        let host = host_of(rest);
        if let Some((no_proxy_var, list)) = ["NO_PROXY", "no_proxy"]
            .iter()
            .find_map(|name| env(name).map(|value| (name.to_string(), value)))
            && exempts(&list, &host)
        {
            return Self::Exempt { var, no_proxy_var };
        }
        let proxy_rest = value.split_once("://").map_or(value.as_str(), |(_, r)| r);
        let authority = proxy_rest.split('/').next().unwrap_or(proxy_rest);
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host)
            .to_string();
        Self::Via(ProxyRoute { var, host })
    }

    pub fn route(&self) -> Option<&ProxyRoute> {
        match self {
            Self::Via(route) => Some(route),
            Self::NotSet | Self::Exempt { .. } => None,
        }
    }

    /// The `proxy:` detail line of the reach row.
    pub fn detail(&self) -> String {
        match self {
            Self::NotSet => "proxy: not set".to_string(),
            Self::Via(route) => format!("proxy: {} ({})", route.host, route.var),
            Self::Exempt { var, no_proxy_var } => {
                format!("proxy: none ({var} is set, but {no_proxy_var} exempts this host)")
            }
        }
    }
}

/// The host of `host[:port]/path` after the scheme, without user info, port or brackets.
fn host_of(rest: &str) -> String {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6).to_string();
    }
    host_port
        .rsplit_once(':')
        .map_or(host_port, |(host, _)| host)
        .to_string()
}

fn exempts(list: &str, host: &str) -> bool {
    let ip = host.parse::<IpAddr>().ok();
    list.split(',').map(str::trim).any(|entry| {
        if entry == "*" {
            return true;
        }
        if let Some(ip) = ip {
            return in_network(entry, ip);
        }
        let host = host.to_ascii_lowercase();
        let entry = entry.to_ascii_lowercase();
        let bare = entry.strip_prefix('.').unwrap_or(&entry);
        !bare.is_empty() && (host == bare || host.ends_with(&format!(".{bare}")))
    })
}

/// `entry` is `ip` itself, or a network (`10.0.0.0/8`, `fd00::/8`) holding it.
fn in_network(entry: &str, ip: IpAddr) -> bool {
    let (address, prefix) = match entry.split_once('/') {
        Some((address, prefix)) => (address, prefix.parse::<u32>().ok()),
        None => (entry, None),
    };
    match (address.parse::<IpAddr>(), ip) {
        (Ok(IpAddr::V4(net)), IpAddr::V4(ip)) => {
            let bits = prefix.unwrap_or(32).min(32);
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(net) & mask == u32::from(ip) & mask
        }
        (Ok(IpAddr::V6(net)), IpAddr::V6(ip)) => {
            let bits = prefix.unwrap_or(128).min(128);
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(net) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(url: &str, vars: &[(&str, &str)]) -> ProxySetting {
        let env = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        };
        ProxySetting::for_url(url, &env)
    }

    fn via(var: &str, host: &str) -> ProxySetting {
        ProxySetting::Via(ProxyRoute {
            var: var.to_string(),
            host: host.to_string(),
        })
    }

    #[test]
    fn the_proxy_reqwest_would_use() {
        let both = [
            ("HTTPS_PROXY", "http://user:pw@sec:3128"),
            ("http_proxy", "http://plain:8080/"),
        ];
        assert_eq!(
            setting("https://gw/v1", &both),
            via("HTTPS_PROXY", "sec:3128")
        );
        assert_eq!(
            setting("http://gw/v1", &both),
            via("http_proxy", "plain:8080")
        );
        assert_eq!(
            setting("https://gw/v1", &[("all_proxy", "socks5h://s:1080")]),
            via("all_proxy", "s:1080")
        );
        assert_eq!(setting("https://gw/v1", &[]), ProxySetting::NotSet);
        // An empty variable falls through to ALL_PROXY.
        assert_eq!(
            setting(
                "https://gw/v1",
                &[("HTTPS_PROXY", ""), ("ALL_PROXY", "http://a:1")]
            ),
            via("ALL_PROXY", "a:1")
        );
        assert_eq!(
            setting(
                "https://gw/v1",
                &[("HTTPS_PROXY", "http://p:1"), ("REQUEST_METHOD", "GET")]
            ),
            ProxySetting::NotSet
        );
    }

    #[test]
    fn no_proxy_exempts_like_curl() {
        let exempt = |url: &str, list: &str| {
            matches!(
                setting(url, &[("ALL_PROXY", "http://p:1"), ("NO_PROXY", list)]),
                ProxySetting::Exempt { .. }
            )
        };
        assert!(exempt("http://gw.corp.example:4000/v1", "example"));
        assert!(exempt("http://gw.corp.example/v1", ".corp.example"));
        assert!(exempt("http://corp.example/v1", "corp.example"));
        assert!(!exempt("http://notcorp.example/v1", "corp.example"));
        assert!(exempt("http://127.0.0.1:4000/v1", "localhost, 127.0.0.1"));
        assert!(exempt("http://10.1.2.3:4000/v1", "10.0.0.0/8"));
        assert!(!exempt("http://11.1.2.3:4000/v1", "10.0.0.0/8"));
        assert!(exempt("http://[fd00::5]:4000/v1", "fd00::/8"));
        assert!(exempt("https://anything/v1", "*"));
        assert!(!exempt("http://localhost:4000/v1", ""));
    }
}
