# Production image: the cloudstore, s3-frontend, iam and notifier binaries on a slim Debian.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin cloudstore --bin s3-frontend --bin iam --bin notifier

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/cloudstore /src/target/release/s3-frontend /src/target/release/iam \
     /src/target/release/notifier /usr/local/bin/
USER 65534:65534
ENV CLOUDSTORE_LISTEN=0.0.0.0:9000 CLOUDSTORE_DATA_DIR=/data
EXPOSE 9000
ENTRYPOINT ["/usr/local/bin/s3-frontend"]
