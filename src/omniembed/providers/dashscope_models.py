"""What omniembed knows about each DashScope multimodal embedding model.

Sources (Alibaba Cloud Model Studio, "Multimodal embedding API details" /
"Multimodal-Embedding API详情", model overview and input-format tables):

* https://www.alibabacloud.com/help/en/model-studio/multimodal-embedding-api-reference
* https://help.aliyun.com/zh/model-studio/multimodal-embedding-api-reference
* https://www.alibabacloud.com/help/zh/doc-detail/2712517.html (updated Mar 26, 2026)
* https://help.aliyun.com/zh/dashscope/developer-reference/one-peace-multimodal-embedding-api-details
* https://help.aliyun.com/en/model-studio/multimodal-embedding-api-reference (2026 revision,
  "Embedding types"): qwen3-vl-embedding fuses only with ``enable_fusion=true``, which fuses
  ALL contents of the request into one vector; tongyi-embedding-vision-plus-2026-03-06 and
  tongyi-embedding-vision-flash-2026-03-06 fuse text, image and video placed in the same
  content object. The dashscope SDK (2.0.2, ``MultiModalEmbedding.call``) documents the
  same: "enable_fusion: Only for qwen3-vl-embedding. When True, fuses all contents into 1
  vector".

The pages disagree in places between revisions (e.g. qwen3-vl-embedding's image limit is
5 MB in most revisions and 10 MB in one; earlier revisions fuse a qwen3-vl-embedding content
object without any flag); where they do, or where they are silent, the table takes the more
conservative value and says so in a comment.
"""

from __future__ import annotations

from dataclasses import dataclass

_MB = 1024 * 1024

#: JPG, PNG, BMP (URL or Base64) — tongyi-embedding-vision-*, multimodal-embedding-v1.
_BASIC_IMAGES = frozenset({"image/jpeg", "image/png", "image/bmp"})
#: JPEG, PNG, WEBP, BMP, TIFF, ICO, DIB, ICNS, SGI — qwen3-vl-embedding.
_QWEN_IMAGES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/bmp",
        "image/tiff",
        "image/x-icon",
        "image/vnd.microsoft.icon",
    }
)
#: MP4, MPEG, MPG, AVI, MOV, WEBM, FLV, MKV (URL only) — tongyi-embedding-vision-*, v1.
_BASIC_VIDEOS = frozenset(
    {
        "video/mp4",
        "video/mpeg",
        "video/x-msvideo",
        "video/quicktime",
        "video/webm",
        "video/x-flv",
        "video/x-matroska",
    }
)
#: MP4, AVI, MOV (URL only) — qwen3-vl-embedding.
_QWEN_VIDEOS = frozenset({"video/mp4", "video/x-msvideo", "video/quicktime"})


@dataclass(frozen=True)
class DashScopeModelSpec:
    name: str
    #: Allowed values of the ``dimension`` parameter; empty: fixed size, no ``dimension``.
    dimensions: tuple[int, ...]
    default_dimension: int
    max_text_tokens: int
    max_image_bytes: int
    max_video_bytes: int
    #: Content objects ("elements") per request.
    max_elements: int
    #: True: the parts of one content object are fused into ONE vector (type "vl").
    fused: bool = False
    #: True: a fused content needs ``parameters.enable_fusion = true``, which fuses every
    #: content of the request, so each fused input travels alone (qwen3-vl-embedding).
    fusion_flag: bool = False
    #: Images in one ``multi_images`` element; 0: the model takes no ``multi_images``.
    max_multi_images: int = 0
    #: Per-request caps on image / video elements (None: only ``max_elements``).
    max_images_per_request: int | None = None
    max_videos_per_request: int | None = None
    image_mime_types: frozenset[str] = _BASIC_IMAGES
    video_mime_types: frozenset[str] = _BASIC_VIDEOS
    #: False for names this version does not know: the service validates them.
    known: bool = True

    @property
    def allowed_dimensions(self) -> str:
        return ", ".join(str(d) for d in self.dimensions) if self.dimensions else "none"


DASHSCOPE_MODELS: dict[str, DashScopeModelSpec] = {
    spec.name: spec
    for spec in (
        # Dims 1152 (default), 1024, 512, 256, 128, 64; text 1,024 tokens; each image
        # ≤3 MB, up to 8 in `multi_images`; video ≤10 MB (URL only). The docs set no element
        # count ("only the total tokens are limited"); 20 per request is our conservative
        # choice (the cap the docs give the other models).
        DashScopeModelSpec(
            "tongyi-embedding-vision-plus",
            dimensions=(64, 128, 256, 512, 1024, 1152),
            default_dimension=1152,
            max_text_tokens=1024,
            max_image_bytes=3 * _MB,
            max_video_bytes=10 * _MB,
            max_elements=20,
            max_multi_images=8,
        ),
        # Dims 768 (default), 512, 256, 128, 64; otherwise as -plus.
        DashScopeModelSpec(
            "tongyi-embedding-vision-flash",
            dimensions=(64, 128, 256, 512, 768),
            default_dimension=768,
            max_text_tokens=1024,
            max_image_bytes=3 * _MB,
            max_video_bytes=10 * _MB,
            max_elements=20,
            max_multi_images=8,
        ),
        # Dims 2560 (default), 2048, 1536, 1024, 768, 512, 256; text 32,000 tokens; one
        # image per content, ≤5 MB (one revision says 10 MB; we keep 5); video ≤50 MB (URL
        # only); ≤20 content elements per request (images, texts, videos and fused objects
        # share the cap).
        DashScopeModelSpec(
            "qwen3-vl-embedding",
            dimensions=(256, 512, 768, 1024, 1536, 2048, 2560),
            default_dimension=2560,
            max_text_tokens=32_000,
            max_image_bytes=5 * _MB,
            max_video_bytes=50 * _MB,
            max_elements=20,
            fused=True,
            fusion_flag=True,
            image_mime_types=_QWEN_IMAGES,
            video_mime_types=_QWEN_VIDEOS,
        ),
        # The dated snapshots (2026 reference, "Embedding types"): fuse text, image and video
        # placed in one content object, no flag. The reference's excerpts give no separate
        # limits for them, so they keep their family's dims and limits (an assumption).
        *(
            DashScopeModelSpec(
                f"tongyi-embedding-vision-{size}-2026-03-06",
                dimensions=dims,
                default_dimension=dims[-1],
                max_text_tokens=1024,
                max_image_bytes=3 * _MB,
                max_video_bytes=10 * _MB,
                max_elements=20,
                fused=True,
                max_multi_images=8,
            )
            for size, dims in (
                ("plus", (64, 128, 256, 512, 1024, 1152)),
                ("flash", (64, 128, 256, 512, 768)),
            )
        ),
        # Fixed 1024 dims (no `dimension`); text 512 tokens (longer is truncated); image
        # ≤3 MB; video ≤10 MB; ≤20 elements per request, at most 1 image and 1 video.
        DashScopeModelSpec(
            "multimodal-embedding-v1",
            dimensions=(),
            default_dimension=1024,
            max_text_tokens=512,
            max_image_bytes=3 * _MB,
            max_video_bytes=10 * _MB,
            max_elements=20,
            max_images_per_request=1,
            max_videos_per_request=1,
        ),
    )
}


def model_spec(model: str) -> DashScopeModelSpec:
    """The spec for ``model``.

    A dated snapshot (``tongyi-embedding-vision-plus-2026-03-06``) gets its family's
    limits. An unknown name gets a conservative spec (independent embeddings, one image
    and one video per request, no ``dimension`` check), so a model released after this
    version still works; the service validates the rest.
    """
    spec = DASHSCOPE_MODELS.get(model)
    if spec is not None:
        return spec
    for base in DASHSCOPE_MODELS.values():
        if model.startswith(base.name + "-"):
            return DashScopeModelSpec(**{**base.__dict__, "name": model})
    return DashScopeModelSpec(
        model,
        dimensions=(),
        default_dimension=0,
        max_text_tokens=512,
        max_image_bytes=3 * _MB,
        max_video_bytes=10 * _MB,
        max_elements=20,
        max_images_per_request=1,
        max_videos_per_request=1,
        known=False,
    )
