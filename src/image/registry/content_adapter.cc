#include "image/registry/content_adapter.h"

#include "image/content/local/local_store.h"

namespace berth::image::registry {

namespace {

class ReaderAdapter final : public BlobReader {
 public:
  explicit ReaderAdapter(std::unique_ptr<content::ReaderAt> r) : r_(std::move(r)) {}
  int64_t size() const override { return r_->size(); }
  Result<size_t> read_at(void* buf, size_t n, int64_t offset) override { return r_->read_at(buf, n, offset); }
  int fd() const override { return r_->fd(); }

 private:
  std::unique_ptr<content::ReaderAt> r_;
};

class WriterAdapter final : public BlobWriter {
 public:
  explicit WriterAdapter(std::unique_ptr<content::Writer> w) : w_(std::move(w)) {}
  int64_t offset() const override { return w_->offset(); }
  Status write(std::string_view data) override { return w_->write(data); }
  Status truncate() override { return w_->truncate(); }
  Digest digest() const override { return w_->digest(); }
  Result<Digest> commit(int64_t size, const Digest& expected) override { return w_->commit(size, expected); }
  Status abort() override { return w_->abort(); }

 private:
  std::unique_ptr<content::Writer> w_;
};

class StoreAdapter final : public BlobStore {
 public:
  StoreAdapter(content::Store& s, std::unique_ptr<content::Store> owned) : s_(s), owned_(std::move(owned)) {}
  Result<BlobInfo> info(const Digest& d) override {
    auto i = BERTH_TRY(s_.info(d));
    return BlobInfo{i.digest, i.size};
  }
  Result<std::unique_ptr<BlobReader>> reader(const Digest& d) override {
    auto r = BERTH_TRY(s_.reader(d));
    return std::unique_ptr<BlobReader>(new ReaderAdapter(std::move(r)));
  }
  Result<std::unique_ptr<BlobWriter>> writer(const std::string& ref) override {
    content::WriterOptions o;
    o.ref = ref;
    auto w = BERTH_TRY(s_.writer(o));
    return std::unique_ptr<BlobWriter>(new WriterAdapter(std::move(w)));
  }
  Status abort_ingest(const std::string& ref) override { return s_.abort_ingest(ref); }
  Status remove(const Digest& d) override { return s_.remove(d); }
  Status walk(const std::function<Status(const BlobInfo&)>& fn) override {
    return s_.walk([&](const content::Info& i) { return fn(BlobInfo{i.digest, i.size}); });
  }

 private:
  content::Store& s_;
  std::unique_ptr<content::Store> owned_;
};

}  // namespace

std::unique_ptr<BlobStore> adapt_content_store(content::Store& store) {
  return std::make_unique<StoreAdapter>(store, nullptr);
}

Result<std::unique_ptr<BlobStore>> open_local_content_store(const std::string& root) {
  auto s = BERTH_TRY(content::LocalStore::open(root));
  content::Store& ref = *s;
  return std::unique_ptr<BlobStore>(new StoreAdapter(ref, std::move(s)));
}

}  // namespace berth::image::registry
