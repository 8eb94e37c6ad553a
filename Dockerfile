# Build the service in release mode, then run it from a slim image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY migration ./migration
COPY src ./src
# Cargo.toml names the bench and test targets: their files must exist for the manifest to load.
COPY benches ./benches
COPY tests ./tests
RUN cargo build --release --locked --bin welfare-grants

FROM debian:bookworm-slim
# The service's user owns its working directory: the SQLite default (data/) is written there.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /app welfare
WORKDIR /app
COPY --from=build /src/target/release/welfare-grants /usr/local/bin/welfare-grants
USER welfare
ENV APP_SERVER__HOST=0.0.0.0 \
    APP_SERVER__PORT=8080
EXPOSE 8080
# The image has no HTTP client: the binary checks its own /status.
HEALTHCHECK --interval=10s --timeout=5s --retries=3 CMD ["welfare-grants", "health"]
ENTRYPOINT ["welfare-grants"]
CMD ["serve"]
