# Sourced by the benchmark scripts: the Mailroom configuration they all run with.
# bench_config DATA_DIR ADDRESS PORT SINK_PORT  prints a mailroom.toml relaying example.test to the
# harness's sink on 127.0.0.1:SINK_PORT, loopback only.
bench_config() {
    cat <<CONF
# generated for a benchmark: loopback only
hostname = "mailroom.bench.invalid"
data_dir = "$1"

[[listen]]
role = "smtp"
address = "$2:$3"

[relay]
trusted_networks = ["127.0.0.0/8"]

[routes]
"example.test" = "[127.0.0.1]:$4"

# As the harness's Postfix: no policy checks (sender domain, rates per client) and no inbound
# SPF/DKIM/DMARC verification; the sender domain client.example.test does not resolve.
[policy]
listeners = []
[authentication]
spf_fail = "off"
verify_inbound = false
CONF
}
